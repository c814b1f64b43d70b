#pragma once
// The models a server holds, loaded once from a Triton-layout repository (triton/repository.hpp)
// and shared by every request (runtime::Session::run is thread-safe). Each model gets what its
// family's pipeline needs: nnU-Net a segmenter (whose session also serves /v2 inference), timm a
// classifier, IRIS an IrisModel, guided-diffusion its UNet session; any ONNX graph a session for
// /v2 inference (for timm and IRIS made on first use, so nothing is loaded twice unasked).
// load()/unload() swap a model atomically: requests already holding it finish with the old one.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "medport/models/sidecar.hpp"
#include "medport/pipelines/segment/predictor.hpp"
#include "medport/runtime/session.hpp"

namespace medport::classify {
class Classifier;
}
namespace medport::pipelines::fewshot {
class IrisModel;
}

namespace medport::server {

class ServedModel {
 public:
  ServedModel(std::string name, std::int64_t version, std::filesystem::path version_dir,
              const runtime::SessionOptions& options);
  ~ServedModel();

  const std::string& name() const { return name_; }
  std::int64_t version() const { return version_; }
  const std::filesystem::path& model_path() const { return model_path_; }  // model.onnx or the folder
  const std::filesystem::path& version_dir() const { return version_dir_; }
  const models::Sidecar& sidecar() const { return sidecar_; }
  const std::string& family() const { return sidecar_.family; }
  // The task pipeline this model serves ("nnunet", "timm", "iris", "guided_diffusion"), or "" for
  // a model that only answers /v2 inference (e.g. one graph of an IRIS export).
  std::string pipeline() const;
  const models::GraphSpec& main_graph() const;  // what /v2 inference runs
  const runtime::Session& session() const;      // of main_graph(), loaded on first use

  // The family's pipeline object; HttpError 400 when this model is of another family.
  const segment::LoadedModel& segmenter() const;
  const classify::Classifier& classifier() const;
  std::shared_ptr<const pipelines::fewshot::IrisModel> iris() const;

 private:
  std::string name_;
  std::int64_t version_;
  std::filesystem::path version_dir_, model_path_;
  models::Sidecar sidecar_;
  runtime::SessionOptions options_;
  std::size_t main_graph_ = 0;
  std::optional<segment::LoadedModel> segmenter_;
  std::unique_ptr<classify::Classifier> classifier_;
  std::shared_ptr<const pipelines::fewshot::IrisModel> iris_;
  mutable std::once_flag session_once_;
  mutable std::shared_ptr<const runtime::Session> session_;
};

struct ModelState {
  std::string name;
  std::optional<std::int64_t> version;
  std::string state;   // READY | UNAVAILABLE
  std::string reason;  // why unavailable (safe to send: no paths)
};

class ModelStore {
 public:
  ModelStore(std::filesystem::path repository, runtime::SessionOptions options);

  // Loads every model of the repository; a model that fails is UNAVAILABLE with its reason.
  void load_all();
  // (Re)loads NAME from the repository (its highest version). HttpError 404 when the repository
  // has no such model; the load error (400/500) when it fails, the old model then stays served.
  void load(const std::string& name);
  // HttpError 404 when not loaded.
  void unload(const std::string& name);
  // HttpError 400 for a bad name, 404 unknown, 503 not ready; `version` must match when given.
  std::shared_ptr<const ServedModel> get(const std::string& name, std::optional<std::int64_t> version = {}) const;
  // The first ready model whose pipeline() is `family` (the default of a task endpoint); nullptr when none.
  std::shared_ptr<const ServedModel> first_of_family(const std::string& family) const;
  std::vector<ModelState> states() const;  // every repository entry and loaded model, by name
  std::size_t loaded() const;
  const std::filesystem::path& repository() const { return repository_; }

 private:
  std::filesystem::path repository_;
  runtime::SessionOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const ServedModel>> models_;
  std::map<std::string, std::string> failures_;  // name -> reason
};

}  // namespace medport::server
