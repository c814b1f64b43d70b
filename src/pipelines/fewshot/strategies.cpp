#include "medport/error.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"

namespace medport::pipelines::fewshot {
namespace {

// Rows [i, i+1) of axis 0 as a contiguous tensor.
Tensor row(const Tensor& t, std::int64_t i) {
  Shape shape = t.shape();
  shape[0] = 1;
  const Tensor c = t.contiguous();
  const std::size_t bytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(c.dtype());
  return Tensor::from_bytes(c.dtype(), shape, std::span(c.raw_data() + static_cast<std::size_t>(i) * bytes, bytes));
}

}  // namespace

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
  if (support_images.ndim() != 5 || support_masks.ndim() != 5 || support_images.shape()[0] != support_masks.shape()[0] ||
      support_images.shape()[0] < 1)
    throw InputError("context ensemble", "expected N >= 1 support images (N,1,D,H,W) and masks (N,K,D,H,W), got " +
                                             shape_string(support_images.shape()) + " and " +
                                             shape_string(support_masks.shape()));
  const std::int64_t n = support_images.shape()[0];
  std::vector<Tensor> rows;
  for (std::int64_t i = 0; i < n; ++i) rows.push_back(model.encode_support(row(support_images, i), row(support_masks, i)));
  Shape shape = rows[0].shape();
  shape[0] = n;
  std::vector<float> all;
  for (const auto& r : rows) {
    const auto v = r.to_f32();
    all.insert(all.end(), v.begin(), v.end());
  }
  return model.segment(query, mean_embeddings(Tensor::from_f32(shape, all)));
}

}  // namespace medport::pipelines::fewshot
