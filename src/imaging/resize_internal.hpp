#pragma once
// Shared by the resampling code: scipy's interpolation along a single axis of a row-major array
// (the zoom coordinates (o + 0.5) * in / out - 0.5, mode 'nearest', orders 0, 1, 3), without
// skimage's clipping - what map_coordinates does when the other axes map onto themselves.
#include <span>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::imaging::detail {

std::vector<double> resize_one_axis(std::span<const double> values, const Shape& shape, std::size_t axis,
                                    std::int64_t new_len, int order);

}  // namespace medport::imaging::detail
