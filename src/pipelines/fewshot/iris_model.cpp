#include <fstream>

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"

namespace medport::pipelines::fewshot {

struct IrisModel::Impl {
  runtime::Session encode;
  runtime::Session forward;
  double momentum = 0.999;
};

namespace {

Tensor single_output(const runtime::Session& session, std::vector<runtime::NamedTensor> inputs) {
  auto outputs = session.run(inputs);
  return std::move(outputs.at(0).tensor);
}

double read_momentum(const std::filesystem::path& sidecar) {
  std::ifstream in(sidecar);
  if (!in) return 0.999;
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) throw InputError(sidecar.string(), "not valid JSON");
  if (j.contains("memory_bank") && j["memory_bank"].contains("momentum") && j["memory_bank"]["momentum"].is_number())
    return j["memory_bank"]["momentum"].get<double>();
  return 0.999;
}

}  // namespace

IrisModel::IrisModel(const std::filesystem::path& folder, const runtime::SessionOptions& options) {
  for (const char* name : {"encode_support.onnx", "forward.onnx"})
    if (!std::filesystem::exists(folder / name))
      throw InputError(folder.string(), std::string("not an IRIS model folder: ") + name + " is missing");
  impl_ = std::make_unique<Impl>(Impl{runtime::Session(folder / "encode_support.onnx", options),
                                      runtime::Session(folder / "forward.onnx", options),
                                      read_momentum(folder / "iris.medport.json")});
}

IrisModel::~IrisModel() = default;
IrisModel::IrisModel(IrisModel&&) noexcept = default;
IrisModel& IrisModel::operator=(IrisModel&&) noexcept = default;

Tensor IrisModel::encode_support(const Tensor& images, const Tensor& masks) const {
  return single_output(impl_->encode, {{"support_image", images}, {"support_masks", masks}});
}

Tensor IrisModel::segment(const Tensor& query, const Tensor& embeddings) const {
  return single_output(impl_->forward, {{"query_image", query}, {"task_embeddings", embeddings}});
}

double IrisModel::memory_momentum() const { return impl_->momentum; }

}  // namespace medport::pipelines::fewshot
