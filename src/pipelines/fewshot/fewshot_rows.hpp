#pragma once
// Row helpers over axis 0 shared by the store, retrieval and ensemble code.
#include <cstdint>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot::detail {

// Row i of axis 0 as a contiguous tensor with a leading 1 kept: (1, ...).
Tensor row_of(const Tensor& t, std::int64_t i);
// Tensors of equal shape (1, ...) stacked into (N, ...), as float32.
Tensor stack_rows(const std::vector<Tensor>& rows);
// Drops one leading axis of size 1 from (1,K,M,C); returns (K,M,C) shapes unchanged.
Shape squeeze_batch(const Shape& shape);

}  // namespace medport::pipelines::fewshot::detail
