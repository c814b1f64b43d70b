#include "medport/pipelines/fewshot/tuning.hpp"

#include <cmath>
#include <string>

#include "medport/error.hpp"

namespace medport::pipelines::fewshot {

namespace {

void check_options(const TuningOptions& o) {
  if (o.steps < 0) throw UsageError("tuning steps must be >= 0, got " + std::to_string(o.steps));
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
    throw UsageError("the tuning learning rate must be a positive number");
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
    throw UsageError("Adam betas must lie in [0, 1)");
  if (!(o.epsilon >= 0) || !std::isfinite(o.epsilon)) throw UsageError("Adam epsilon must be >= 0");
  if (!(o.threshold > 0 && o.threshold < 1)) throw UsageError("the pseudo-label threshold must lie in (0, 1)");
}

void check_shapes(const Tensor& query, const Tensor& embeddings, const std::optional<Tensor>& target) {
  if (embeddings.ndim() != 4)
    throw InputError("task embeddings", "expected (N,K,m+1,C), got " + shape_string(embeddings.shape()));
  if (query.ndim() != 5 || query.shape()[0] != embeddings.shape()[0])
    throw InputError("query image", "expected (" + std::to_string(embeddings.shape()[0]) + ",1,D,H,W) to match the " +
                                        "embeddings, got " + shape_string(query.shape()));
  if (!target) return;
  const Shape want{embeddings.shape()[0], embeddings.shape()[1], query.shape()[2], query.shape()[3], query.shape()[4]};
  if (target->shape() != want)
    throw InputError("target masks", "expected " + shape_string(want) + ", got " + shape_string(target->shape()));
}

// torch.optim.Adam's update (amsgrad off, no weight decay) on float32 parameters and state.
class Adam {
 public:
  Adam(std::size_t size, const TuningOptions& o) : o_(o), m_(size, 0.f), v_(size, 0.f) {}

  void step(std::vector<float>& params, const std::vector<float>& grads) {
    ++t_;
    const double bias_correction1 = 1.0 - std::pow(o_.beta1, t_);
    const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(o_.beta2, t_));
    const float step_size = static_cast<float>(o_.learning_rate / bias_correction1);
    const float beta1 = static_cast<float>(o_.beta1), beta2 = static_cast<float>(o_.beta2);
    const float one_minus_beta1 = static_cast<float>(1.0 - o_.beta1);
    const float one_minus_beta2 = static_cast<float>(1.0 - o_.beta2);
    const float correction2 = static_cast<float>(bias_correction2_sqrt), eps = static_cast<float>(o_.epsilon);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const float g = grads[i];
      m_[i] = m_[i] * beta1 + one_minus_beta1 * g;
      v_[i] = v_[i] * beta2 + one_minus_beta2 * g * g;
      const float denom = std::sqrt(v_[i]) / correction2 + eps;
      params[i] += -step_size * (m_[i] / denom);
    }
  }

 private:
  TuningOptions o_;
  std::vector<float> m_, v_;
  int t_ = 0;
};

}  // namespace

Tensor pseudo_labels(const Tensor& logits, double threshold) {
  std::vector<float> labels = logits.to_f32();
  const float t = static_cast<float>(threshold);
  for (float& x : labels) x = 1.f / (1.f + std::exp(-x)) > t ? 1.f : 0.f;
  return Tensor::from_f32(logits.shape(), labels);
}

TuningResult tune_embeddings(const IrisModel& model, const Tensor& query, const Tensor& initial_embeddings,
                             const std::optional<Tensor>& target_masks, const TuningOptions& options) {
  check_options(options);
  check_shapes(query, initial_embeddings, target_masks);
  Tensor target;  // float32 once here rather than at every step
  if (!target_masks) target = pseudo_labels(model.segment(query, initial_embeddings), options.threshold);
  else target = target_masks->dtype() == DType::F32 ? *target_masks : target_masks->to(DType::F32);
  const Shape shape = initial_embeddings.shape();
  std::vector<float> params = initial_embeddings.to_f32();
  Adam adam(params.size(), options);
  TuningResult result;
  for (int i = 0; i < options.steps; ++i) {
    const auto step = model.tune_step(query, Tensor::from_f32(shape, params), target);
    result.losses.push_back(step.loss);
    adam.step(params, step.gradient.to_f32());
  }
  result.embeddings = Tensor::from_f32(shape, params);
  auto last = model.tune_step(query, result.embeddings, target);
  result.losses.push_back(last.loss);
  result.logits = std::move(last.logits);
  return result;
}

}  // namespace medport::pipelines::fewshot
