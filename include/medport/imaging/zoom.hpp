#pragma once
// scipy.ndimage.zoom with its defaults (mode 'constant', cval 0, prefilter, grid_mode False), the
// resampling of IRIS's upstream preprocessing (src/iris/data/preprocessing.py):
//  - output size per axis int(round(n * factor)), Python's round (ties to even);
//  - output index o reads input coordinate o * (n - 1) / (m - 1) (the corners of both grids
//    aligned; 0 when m == 1), computed in double as scipy does - a coordinate that float error
//    puts past n - 1 lies outside the input and gives 0, as in scipy;
//  - order 0: the nearest input sample (ties round up); order 1: linear; order 3: cubic B-spline
//    of the input prefiltered with mirror boundaries, spline taps past an edge mirrored.
// Values are computed in double; callers round to the input's type (float32 images, integer masks).
#include <span>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::imaging {

// int(round(shape[a] * factors[a])) per axis. UsageError for a non-positive result or factor.
Shape zoom_shape(const Shape& shape, std::span<const double> factors);

// Zooms `values` (row-major `shape`) to `out_shape` with spline order 0, 1 or 3.
// `scipy_edges` false: a coordinate float error puts past the last sample reads the last sample
// instead of giving 0 (for mapping results back, where scipy parity is not the point).
// UsageError for other orders or mismatched sizes.
std::vector<double> zoom(std::span<const double> values, const Shape& shape, const Shape& out_shape, int order,
                         bool scipy_edges = true);

}  // namespace medport::imaging
