#include "medport/error.hpp"
#include "medport/pipelines/fewshot/ensemble.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"

namespace medport::pipelines::fewshot {
Tensor mean_embeddings(const Tensor& embeddings) {
  if (embeddings.ndim() != 4 || embeddings.shape()[0] < 1)
    throw InputError("task embeddings", "expected (N,K,m+1,C) with N >= 1, got " + shape_string(embeddings.shape()));
  const auto values = embeddings.to_f32();
  const std::int64_t n = embeddings.shape()[0];
  const std::size_t per = values.size() / static_cast<std::size_t>(n);
  // Summed in float in row order, then divided: the order torch.mean(dim=0) uses on CPU.
  std::vector<float> sum(per, 0.0f);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < per; ++j) sum[j] += values[static_cast<std::size_t>(i) * per + j];
  for (auto& v : sum) v /= static_cast<float>(n);
  Shape shape = embeddings.shape();
  shape[0] = 1;
  return Tensor::from_f32(shape, sum);
}

Tensor one_shot(const IrisModel& model, const Tensor& support_image, const Tensor& support_masks, const Tensor& query) {
  return model.segment(query, model.encode_support(support_image, support_masks));
}

Tensor context_ensemble(const IrisModel& model, const Tensor& support_images, const Tensor& support_masks,
                        const Tensor& query) {
  return run_ensemble(model, support_images, support_masks, query).logits;
}

}  // namespace medport::pipelines::fewshot
