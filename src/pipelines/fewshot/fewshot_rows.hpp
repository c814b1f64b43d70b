#pragma once
// Shape helper shared by the bank and store code (row helpers are public in fewshot.hpp).
#include <cstdint>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot::detail {

// Drops one leading axis of size 1 from (1,K,M,C); returns (K,M,C) shapes unchanged.
Shape squeeze_batch(const Shape& shape);

}  // namespace medport::pipelines::fewshot::detail
