// scipy.ndimage.zoom (scipy/ndimage/src/ni_interpolation.c NI_ZoomShift, ni_splines.c), separable:
// one axis at a time, each output index reading at most order + 1 input samples.
#include "medport/imaging/zoom.hpp"

#include <cmath>

#include "medport/error.hpp"
#include "resize_internal.hpp"

namespace medport::imaging {
namespace {

// Whole-sample mirror of an index into [0, len) (scipy's spline boundary for these modes).
std::int64_t mirror(std::int64_t idx, std::int64_t len) {
  if (len <= 1) return 0;
  const std::int64_t s2 = 2 * len - 2;
  if (idx < 0) {
    idx = s2 * (-idx / s2) + idx;
    idx = idx <= 1 - len ? idx + s2 : -idx;
  } else if (idx >= len) {
    idx -= s2 * (idx / s2);
    if (idx >= len) idx = s2 - idx;
  }
  return idx;
}

// Taps of order + 1 samples per output index; an index outside the input (mode 'constant')
// reads sample 0 with weight 0.
detail::AxisTaps axis_taps(std::int64_t in_len, std::int64_t out_len, int order, bool scipy_edges) {
  const double factor = out_len > 1 ? static_cast<double>(in_len - 1) / static_cast<double>(out_len - 1) : 1.0;
  detail::AxisTaps taps;
  taps.width = order + 1;
  for (std::int64_t o = 0; o < out_len; ++o) {
    double cc = static_cast<double>(o) * factor;
    if (!scipy_edges) cc = std::min(cc, static_cast<double>(in_len - 1));
    if (cc < 0.0 || cc > static_cast<double>(in_len - 1)) {  // mode 'constant': cval
      taps.index.insert(taps.index.end(), static_cast<std::size_t>(taps.width), 0);
      taps.weight.insert(taps.weight.end(), static_cast<std::size_t>(taps.width), 0.0);
      continue;
    }
    if (order == 0) {
      taps.index.push_back(mirror(static_cast<std::int64_t>(std::floor(cc + 0.5)), in_len));
      taps.weight.push_back(1.0);
      continue;
    }
    const double x = cc - std::floor(cc);
    std::vector<double> w;
    std::int64_t start = static_cast<std::int64_t>(std::floor(cc));
    if (order == 1) {
      w = {1.0 - x};
    } else {
      start -= 1;
      const double y = 1.0 - x;
      w = {y * y * y / 6.0, (x * x * (x - 2.0) * 3.0 + 4.0) / 6.0, (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0};
    }
    double last = 1.0;  // the weights add to 1: scipy computes the last one so
    for (double v : w) last -= v;
    w.push_back(last);
    for (std::size_t k = 0; k < w.size(); ++k) {
      taps.index.push_back(mirror(start + static_cast<std::int64_t>(k), in_len));
      taps.weight.push_back(w[k]);
    }
  }
  return taps;
}

// Cubic B-spline prefilter of one line, mirror boundaries (ni_splines.c, mode 'constant').
void prefilter_line(std::vector<double>& c) {
  const auto n = static_cast<std::int64_t>(c.size());
  if (n < 2) return;
  const double z = std::sqrt(3.0) - 2.0;
  const double gain = (1.0 - z) * (1.0 - 1.0 / z);
  for (auto& v : c) v *= gain;
  const double z_n_1 = std::pow(z, static_cast<double>(n - 1));
  double z_i = z;
  c[0] = c[0] + z_n_1 * c[static_cast<std::size_t>(n - 1)];
  for (std::int64_t i = 1; i < n - 1; ++i) {
    c[0] += z_i * (c[static_cast<std::size_t>(i)] + z_n_1 * c[static_cast<std::size_t>(n - 1 - i)]);
    z_i *= z;
  }
  c[0] /= 1.0 - z_n_1 * z_n_1;
  for (std::int64_t i = 1; i < n; ++i) c[static_cast<std::size_t>(i)] += z * c[static_cast<std::size_t>(i - 1)];
  const auto last = static_cast<std::size_t>(n - 1);
  c[last] = (z * c[last - 1] + c[last]) * z / (z * z - 1.0);
  for (std::int64_t i = n - 2; i >= 0; --i) {
    const auto k = static_cast<std::size_t>(i);
    c[k] = z * (c[k + 1] - c[k]);
  }
}

}  // namespace

Shape zoom_shape(const Shape& shape, std::span<const double> factors) {
  if (factors.size() != shape.size()) throw UsageError("zoom: one factor per axis is needed");
  Shape out;
  for (std::size_t a = 0; a < shape.size(); ++a) {
    if (!(factors[a] > 0.0) || !std::isfinite(factors[a])) throw UsageError("zoom: factors must be positive");
    // Python's round(): ties to even, what nearbyint does in the default rounding mode.
    const double size = std::nearbyint(static_cast<double>(shape[a]) * factors[a]);
    if (size < 1.0) throw UsageError("zoom: axis " + std::to_string(a) + " of " + shape_string(shape) + " would vanish");
    out.push_back(static_cast<std::int64_t>(size));
  }
  return out;
}

std::vector<double> zoom(std::span<const double> values, const Shape& shape, const Shape& out_shape, int order,
                         bool scipy_edges) {
  if (order != 0 && order != 1 && order != 3)
    throw UsageError("zoom: spline order " + std::to_string(order) + " is not supported (0, 1 or 3)");
  if (shape.empty() || shape.size() != out_shape.size() || static_cast<std::int64_t>(values.size()) != shape_numel(shape))
    throw UsageError("zoom: " + std::to_string(values.size()) + " values, shape " + shape_string(shape) + " -> " +
                     shape_string(out_shape));
  for (std::size_t a = 0; a < shape.size(); ++a)
    if (shape[a] < 1 || out_shape[a] < 1) throw UsageError("zoom: sizes must be positive");
  std::vector<double> current(values.begin(), values.end());
  if (order == 3)
    for (std::size_t a = 0; a < shape.size(); ++a) detail::filter_lines(current, shape, a, prefilter_line);
  Shape current_shape = shape;
  for (std::size_t a = 0; a < shape.size(); ++a) {
    current = detail::apply_taps(current, current_shape, a, axis_taps(shape[a], out_shape[a], order, scipy_edges), out_shape[a]);
    current_shape[a] = out_shape[a];
  }
  return current;
}

}  // namespace medport::imaging
