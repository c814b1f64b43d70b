#pragma once
// Shared by the resampling code: scipy's interpolation along a single axis of a row-major array
// (the zoom coordinates (o + 0.5) * in / out - 0.5, mode 'nearest', orders 0, 1, 3), without
// skimage's clipping - what map_coordinates does when the other axes map onto themselves.
#include <functional>
#include <span>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::imaging::detail {

// For every output index along one axis: the input indices it reads and their weights.
struct AxisTaps {
  int width = 1;
  std::vector<std::int64_t> index;  // out_len * width
  std::vector<double> weight;       // out_len * width
};

// Applies `taps` along `axis` of a row-major array of `shape`, giving `out_len` samples there.
std::vector<double> apply_taps(std::span<const double> in, const Shape& shape, std::size_t axis, const AxisTaps& taps,
                               std::int64_t out_len);

// Runs `filter` on every 1D line of `values` along `axis`, in place (spline prefilters).
void filter_lines(std::vector<double>& values, const Shape& shape, std::size_t axis,
                  const std::function<void(std::vector<double>&)>& filter);

std::vector<double> resize_one_axis(std::span<const double> values, const Shape& shape, std::size_t axis,
                                    std::int64_t new_len, int order);

}  // namespace medport::imaging::detail
