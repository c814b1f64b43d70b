#include <fstream>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"

namespace medport::pipelines::fewshot {

struct IrisModel::Impl {
  runtime::Session encode;
  runtime::Session forward;
  double momentum = 0.999;
  std::filesystem::path folder;
  runtime::SessionOptions options;
  // tune_step.onnx repeats every weight: loaded only when tuning is asked for.
  std::mutex tune_mutex;
  std::optional<runtime::Session> tune;

  const runtime::Session& tune_session() {
    std::lock_guard lock(tune_mutex);
    if (!tune) {
      const auto path = folder / "tune_step.onnx";
      if (!std::filesystem::exists(path))
        throw InputError(folder.string(),
                         "no tune_step.onnx here (converted by an older medport): re-run `medport convert` to enable "
                         "in-context tuning");
      tune.emplace(path, options);
    }
    return *tune;
  }
};

namespace {

Tensor single_output(const runtime::Session& session, std::vector<runtime::NamedTensor> inputs) {
  auto outputs = session.run(inputs);
  return std::move(outputs.at(0).tensor);
}

// The memory-bank EMA momentum the model was trained with (0.999 without a sidecar).
double read_momentum(const std::filesystem::path& folder) {
  std::error_code ec;
  if (!std::filesystem::exists(models::sidecar_path_for(folder), ec)) return 0.999;
  const auto section = models::read_sidecar(folder, "iris").family_section;
  const auto bank = section.value("memory_bank", nlohmann::ordered_json::object());
  if (bank.is_object() && bank.contains("momentum") && bank["momentum"].is_number()) return bank["momentum"].get<double>();
  return 0.999;
}

}  // namespace

IrisModel::IrisModel(const std::filesystem::path& folder, const runtime::SessionOptions& options) {
  for (const char* name : {"encode_support.onnx", "forward.onnx"})
    if (!std::filesystem::exists(folder / name))
      throw InputError(folder.string(), std::string("not an IRIS model folder: ") + name + " is missing");
  impl_ = std::make_unique<Impl>(runtime::Session(folder / "encode_support.onnx", options),
                                 runtime::Session(folder / "forward.onnx", options),
                                 read_momentum(folder));
  impl_->folder = folder;
  impl_->options = options;
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

bool IrisModel::can_tune() const {
  std::error_code ec;
  return std::filesystem::exists(impl_->folder / "tune_step.onnx", ec);
}

IrisModel::TuneStep IrisModel::tune_step(const Tensor& query, const Tensor& embeddings,
                                         const Tensor& target_masks) const {
  const Tensor targets = target_masks.dtype() == DType::F32 ? target_masks : target_masks.to(DType::F32);
  const auto outputs = impl_->tune_session().run(
      {{"query_image", query}, {"task_embeddings", embeddings}, {"target_masks", targets}});
  TuneStep step;
  bool has_loss = false;
  for (const auto& out : outputs) {
    if (out.name == "loss" && out.tensor.numel() == 1) {
      step.loss = double(out.tensor.to_f32()[0]);
      has_loss = true;
    } else if (out.name == "grad_task_embeddings") {
      step.gradient = out.tensor;
    } else if (out.name == "logits") {
      step.logits = out.tensor;
    }
  }
  if (!has_loss || !step.gradient.defined() || !step.logits.defined())
    throw InputError((impl_->folder / "tune_step.onnx").string(), "lacks the loss, logits or gradient output");
  return step;
}

std::pair<double, Tensor> IrisModel::loss_and_gradient(const Tensor& query, const Tensor& embeddings,
                                                       const Tensor& target_masks) const {
  TuneStep step = tune_step(query, embeddings, target_masks);
  return {step.loss, std::move(step.gradient)};
}

}  // namespace medport::pipelines::fewshot
