#include "fewshot_rows.hpp"

#include "medport/error.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"

namespace medport::pipelines::fewshot {

Tensor row_of(const Tensor& t, std::int64_t i) {
  if (t.ndim() == 0 || i < 0 || i >= t.shape()[0])
    throw InputError("", "row " + std::to_string(i) + " outside " + shape_string(t.shape()));
  Shape shape = t.shape();
  shape[0] = 1;
  const Tensor c = t.contiguous();
  const std::size_t bytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(c.dtype());
  return Tensor::from_bytes(c.dtype(), shape, std::span(c.raw_data() + static_cast<std::size_t>(i) * bytes, bytes));
}

Tensor stack_rows(const std::vector<Tensor>& rows) {
  if (rows.empty()) throw InputError("", "nothing to stack");
  Shape shape = rows[0].shape();
  std::vector<float> all;
  for (const auto& r : rows) {
    if (r.shape() != rows[0].shape())
      throw InputError(
          "", "rows of shapes " + shape_string(r.shape()) + " and " + shape_string(shape) + " cannot be stacked");
    const auto v = r.to_f32();
    all.insert(all.end(), v.begin(), v.end());
  }
  shape[0] = static_cast<std::int64_t>(rows.size()) * rows[0].shape()[0];
  return Tensor::from_f32(shape, all);
}

std::vector<Tensor> encode_each_support(const IrisModel& model, const Tensor& images, const Tensor& masks) {
  std::vector<Tensor> rows;
  for (std::int64_t i = 0; i < images.shape()[0]; ++i) rows.push_back(model.encode_support(row_of(images, i), row_of(masks, i)));
  return rows;
}

namespace detail {

Shape squeeze_batch(const Shape& shape) {
  Shape s = shape;
  if (s.size() == 4 && s[0] == 1) s.erase(s.begin());
  return s;
}

}  // namespace detail
}  // namespace medport::pipelines::fewshot
