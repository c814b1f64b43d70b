#include "medport/server/model_store.hpp"


#include "medport/error.hpp"
#include "medport/pipelines/classify/classifier.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/server/http_error.hpp"
#include "medport/server/log.hpp"
#include "medport/triton/repository.hpp"

namespace medport::server {

namespace fs = std::filesystem;

ServedModel::ServedModel(std::string name, std::int64_t version, fs::path version_dir, const runtime::SessionOptions& options)
    : name_(std::move(name)), version_(version), version_dir_(std::move(version_dir)), options_(options) {
  model_path_ = triton::model_in_version(version_dir_);
  sidecar_ = models::read_sidecar(model_path_);
  if (sidecar_.format != "onnx")
    throw InputError(name_, "is a '" + sidecar_.format + "' export; the server runs ONNX models");
  if (sidecar_.graphs.empty()) throw InputError(name_, "its sidecar lists no graph");
  for (std::size_t i = 0; i < sidecar_.graphs.size(); ++i)
    if (sidecar_.graphs[i].name == "model" || sidecar_.graphs[i].name == "forward") main_graph_ = i;
  const std::string& family = sidecar_.family;
  if (family == "nnunet") {
    segmenter_ = segment::load_model(model_path_, options_);
    session_ = segmenter_->session;
  } else if (family == "timm") {
    classifier_ = std::make_unique<classify::Classifier>(model_path_, options_);
  } else if (family == "iris" && std::filesystem::is_directory(model_path_)) {
    iris_ = std::make_shared<const pipelines::fewshot::IrisModel>(model_path_, options_);
  } else {  // guided-diffusion UNets, one graph of an IRIS export (NAME__encode_support), any graph
    session_ = std::make_shared<const runtime::Session>(model_path_, options_);
  }
}

ServedModel::~ServedModel() = default;

std::string ServedModel::pipeline() const {
  if (segmenter_ || classifier_ || iris_) return family();
  return family() == "guided_diffusion" ? family() : std::string();
}

const models::GraphSpec& ServedModel::main_graph() const { return sidecar_.graphs[main_graph_]; }

const runtime::Session& ServedModel::session() const {
  std::call_once(session_once_, [&] {
    if (!session_) {
      const fs::path dir = fs::is_directory(model_path_) ? model_path_ : model_path_.parent_path();
      session_ = std::make_shared<const runtime::Session>(dir / main_graph().file, options_);
    }
  });
  return *session_;
}

const segment::LoadedModel& ServedModel::segmenter() const {
  if (!segmenter_) throw HttpError(400, "model '" + name_ + "' is a " + family() + " model; this endpoint needs an nnU-Net segmenter");
  return *segmenter_;
}

const classify::Classifier& ServedModel::classifier() const {
  if (!classifier_) throw HttpError(400, "model '" + name_ + "' is a " + family() + " model; this endpoint needs a timm classifier");
  return *classifier_;
}

std::shared_ptr<const pipelines::fewshot::IrisModel> ServedModel::iris() const {
  if (!iris_) throw HttpError(400, "model '" + name_ + "' is a " + family() + " model; this endpoint needs an IRIS model");
  return iris_;
}

ModelStore::ModelStore(fs::path repository, runtime::SessionOptions options)
    : repository_(std::move(repository)), options_(options) {
  std::error_code ec;
  if (!fs::is_directory(repository_, ec)) throw UsageError("--models " + repository_.string() + " is not a folder");
}

namespace {

// A reason safe to send to clients: the error's message without the server's paths.
std::string public_reason(const std::string& message, const fs::path& repository) {
  std::string out = message;
  const std::string root = repository.string();
  for (auto at = out.find(root); at != std::string::npos; at = out.find(root)) out.replace(at, root.size(), "<repository>");
  return out;
}

}  // namespace

void ModelStore::load_all() {
  const auto scan = triton::scan_repository(repository_);
  for (const auto& name : scan.ignored) log_event(spdlog::level::warn, "repository_entry_ignored", {{"entry", name}});
  for (const auto& entry : scan.entries) {
    try {
      load(entry.name);
    } catch (const std::exception& e) {
      log_event(spdlog::level::err, "model_load_failed", {{"model", entry.name}, {"reason", e.what()}});
    }
  }
}

void ModelStore::load(const std::string& name) {
  triton::check_model_name(name);
  const auto entry = triton::find_entry(repository_, name);
  if (!entry) throw HttpError(404, "the repository has no model '" + name + "'");
  try {
    if (entry->versions.empty()) throw InputError(name, "has no version folder (NAME/1/...)");
    if (!entry->has_config) throw InputError(name, "has no config.pbtxt");
    const auto& latest = entry->versions.back();
    auto model = std::make_shared<const ServedModel>(name, latest.version, latest.dir, options_);
    std::lock_guard lock(mutex_);
    models_[name] = std::move(model);
    failures_.erase(name);
    log_event(spdlog::level::info, "model_loaded", {{"model", name}, {"version", latest.version}, {"family", models_[name]->family()}});
  } catch (const HttpError&) {
    throw;
  } catch (const std::exception& e) {
    std::lock_guard lock(mutex_);
    failures_[name] = public_reason(e.what(), repository_);
    throw;
  }
}

void ModelStore::unload(const std::string& name) {
  triton::check_model_name(name);
  std::lock_guard lock(mutex_);
  if (models_.erase(name) == 0) throw HttpError(404, "model '" + name + "' is not loaded");
  failures_.erase(name);
  log_event(spdlog::level::info, "model_unloaded", {{"model", name}});
}

std::shared_ptr<const ServedModel> ModelStore::get(const std::string& name, std::optional<std::int64_t> version) const {
  if (!triton::is_valid_model_name(name)) {
    try {
      triton::check_model_name(name);
    } catch (const InputError& e) {
      throw HttpError(400, e.what());
    }
  }
  std::lock_guard lock(mutex_);
  const auto it = models_.find(name);
  if (it == models_.end()) {
    if (failures_.count(name)) throw HttpError(503, "model '" + name + "' is not ready: " + failures_.at(name));
    throw HttpError(404, "unknown model '" + name + "'");
  }
  if (version && *version != it->second->version())
    throw HttpError(404, "model '" + name + "' has no loaded version " + std::to_string(*version));
  return it->second;
}

std::shared_ptr<const ServedModel> ModelStore::first_of_family(const std::string& family) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, m] : models_)
    if (m->pipeline() == family) return m;
  return nullptr;
}

std::vector<ModelState> ModelStore::states() const {
  std::map<std::string, ModelState> out;
  try {
    for (const auto& e : triton::scan_repository(repository_).entries)
      out[e.name] = {e.name, e.versions.empty() ? std::nullopt : std::optional(e.versions.back().version), "UNAVAILABLE", "unloaded"};
  } catch (const std::exception&) {
  }
  std::lock_guard lock(mutex_);
  for (const auto& [name, reason] : failures_) out[name] = {name, out[name].version, "UNAVAILABLE", reason};
  for (const auto& [name, m] : models_) out[name] = {name, m->version(), "READY", ""};
  std::vector<ModelState> list;
  for (auto& [name, s] : out) list.push_back(std::move(s));
  return list;
}

std::size_t ModelStore::loaded() const {
  std::lock_guard lock(mutex_);
  return models_.size();
}

}  // namespace medport::server
