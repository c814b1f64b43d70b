// skimage.transform.resize(order, mode='edge', anti_aliasing=False) as scipy.ndimage.zoom computes
// it (grid_mode=True, mode 'nearest'): each output index o maps to the input coordinate
// (o + 0.5) * in / out - 0.5. Order 3 first edge-pads the input by 12 on every side and applies
// the cubic B-spline prefilter (scipy's _prepad_for_spline_filter + spline_filter, 'reflect'
// boundary initialisation for mode 'nearest'). Interpolation is separable, axis by axis.
#include <algorithm>
#include <cmath>
#include <map>

#include "medport/error.hpp"
#include "medport/imaging/resample.hpp"
#include "resize_internal.hpp"

namespace medport::imaging {
namespace {

std::int64_t clamp_index(std::int64_t i, std::int64_t len) { return std::clamp<std::int64_t>(i, 0, len - 1); }

constexpr std::int64_t kSplinePad = 12;

detail::AxisTaps edge_pad_taps(std::int64_t in_len, std::int64_t pad) {
  detail::AxisTaps taps;
  for (std::int64_t j = 0; j < in_len + 2 * pad; ++j) {
    taps.index.push_back(clamp_index(j - pad, in_len));
    taps.weight.push_back(1.0);
  }
  return taps;
}

// Interpolation taps for zoom's grid-mode coordinates; `pad` is the prepadding already applied.
detail::AxisTaps zoom_taps(std::int64_t in_len, std::int64_t out_len, std::int64_t pad, int order) {
  const std::int64_t len = in_len + 2 * pad;
  const double zoom = static_cast<double>(in_len) / static_cast<double>(out_len);
  detail::AxisTaps taps;
  taps.width = order + 1;
  for (std::int64_t o = 0; o < out_len; ++o) {
    double cc = (static_cast<double>(o) + 0.5) * zoom - 0.5;
    cc += static_cast<double>(pad);
    cc = std::clamp(cc, 0.0, static_cast<double>(len - 1));  // map_coordinate, mode 'nearest'
    if (order == 0) {
      taps.index.push_back(clamp_index(static_cast<std::int64_t>(std::floor(cc + 0.5)), len));
      taps.weight.push_back(1.0);
    } else if (order == 1) {
      const double f = std::floor(cc);
      const double t = cc - f;
      const auto start = static_cast<std::int64_t>(f);
      taps.index.push_back(clamp_index(start, len));
      taps.weight.push_back(1.0 - t);
      taps.index.push_back(clamp_index(start + 1, len));
      taps.weight.push_back(t);
    } else {
      const double f = std::floor(cc);
      const double t = cc - f;
      const double u = 1.0 - t;
      const auto start = static_cast<std::int64_t>(f) - 1;
      const double w0 = u * u * u / 6.0;
      const double w1 = (t * t * (t - 2.0) * 3.0 + 4.0) / 6.0;
      const double w2 = (u * u * (u - 2.0) * 3.0 + 4.0) / 6.0;
      const double w3 = 1.0 - w0 - w1 - w2;
      const double w[4] = {w0, w1, w2, w3};
      for (int k = 0; k < 4; ++k) {
        taps.index.push_back(clamp_index(start + k, len));
        taps.weight.push_back(w[k]);
      }
    }
  }
  return taps;
}

// Cubic B-spline prefilter of one line (pole sqrt(3) - 2), 'reflect' initialisation.
void cubic_prefilter_line(std::vector<double>& c) {
  const auto n = static_cast<std::int64_t>(c.size());
  if (n < 2) return;
  const double z = std::sqrt(3.0) - 2.0;
  const double gain = (1.0 - z) * (1.0 - 1.0 / z);
  for (auto& v : c) v *= gain;
  // causal initialisation
  const double z_n = std::pow(z, static_cast<double>(n));
  const double c0 = c[0];
  double z_i = z;
  c[0] = c[0] + z_n * c[static_cast<std::size_t>(n - 1)];
  for (std::int64_t i = 1; i < n; ++i) {
    c[0] += z_i * (c[static_cast<std::size_t>(i)] + z_n * c[static_cast<std::size_t>(n - 1 - i)]);
    z_i *= z;
  }
  c[0] *= z / (1.0 - z_n * z_n);
  c[0] += c0;
  for (std::int64_t i = 1; i < n; ++i) c[static_cast<std::size_t>(i)] += z * c[static_cast<std::size_t>(i - 1)];
  c[static_cast<std::size_t>(n - 1)] *= z / (z - 1.0);
  for (std::int64_t i = n - 2; i >= 0; --i) {
    const auto k = static_cast<std::size_t>(i);
    c[k] = z * (c[k + 1] - c[k]);
  }
}

void cubic_prefilter_axis(std::vector<double>& values, const Shape& shape, std::size_t axis) {
  detail::filter_lines(values, shape, axis, cubic_prefilter_line);
}

void check_resize_args(std::span<const double> values, const Shape& shape, const Shape& new_shape, int order) {
  if (order != 0 && order != 1 && order != 3)
    throw UsageError("resize: spline order " + std::to_string(order) + " is not supported (0, 1 or 3)");
  if (shape.empty() || shape.size() != new_shape.size())
    throw UsageError("resize: shape " + shape_string(shape) + " and new shape " + shape_string(new_shape) +
                     " differ in rank");
  for (std::size_t a = 0; a < shape.size(); ++a)
    if (shape[a] < 1 || new_shape[a] < 1)
      throw UsageError("resize: sizes must be positive, got " + shape_string(shape) + " -> " + shape_string(new_shape));
  if (static_cast<std::int64_t>(values.size()) != shape_numel(shape))
    throw UsageError("resize: " + std::to_string(values.size()) + " values for shape " + shape_string(shape));
}

}  // namespace

namespace detail {

std::vector<double> apply_taps(std::span<const double> in, const Shape& shape, std::size_t axis, const AxisTaps& taps,
                               std::int64_t out_len) {
  std::int64_t outer = 1, inner = 1;
  for (std::size_t a = 0; a < axis; ++a) outer *= shape[a];
  for (std::size_t a = axis + 1; a < shape.size(); ++a) inner *= shape[a];
  const std::int64_t in_len = shape[axis];
  std::vector<double> out(static_cast<std::size_t>(outer * out_len * inner), 0.0);
  for (std::int64_t o = 0; o < outer; ++o) {
    const double* src = in.data() + o * in_len * inner;
    double* dst = out.data() + o * out_len * inner;
    for (std::int64_t j = 0; j < out_len; ++j) {
      double* row = dst + j * inner;
      for (int k = 0; k < taps.width; ++k) {
        const auto t = static_cast<std::size_t>(j * taps.width + k);
        const double w = taps.weight[t];
        const double* srow = src + taps.index[t] * inner;
        for (std::int64_t i = 0; i < inner; ++i) row[i] += w * srow[i];
      }
    }
  }
  return out;
}

void filter_lines(std::vector<double>& values, const Shape& shape, std::size_t axis,
                  const std::function<void(std::vector<double>&)>& filter) {
  std::int64_t outer = 1, inner = 1;
  for (std::size_t a = 0; a < axis; ++a) outer *= shape[a];
  for (std::size_t a = axis + 1; a < shape.size(); ++a) inner *= shape[a];
  const std::int64_t len = shape[axis];
  std::vector<double> line(static_cast<std::size_t>(len));
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      double* base = values.data() + o * len * inner + i;
      for (std::int64_t k = 0; k < len; ++k) line[static_cast<std::size_t>(k)] = base[k * inner];
      filter(line);
      for (std::int64_t k = 0; k < len; ++k) base[k * inner] = line[static_cast<std::size_t>(k)];
    }
  }
}

}  // namespace detail

std::vector<double> resize_edge(std::span<const double> values, const Shape& shape, const Shape& new_shape, int order) {
  check_resize_args(values, shape, new_shape, order);
  std::vector<double> current(values.begin(), values.end());
  Shape current_shape = shape;
  const std::int64_t pad = order > 1 ? kSplinePad : 0;
  if (order > 1) {
    for (std::size_t a = 0; a < shape.size(); ++a) {
      current = detail::apply_taps(current, current_shape, a, edge_pad_taps(current_shape[a], pad), current_shape[a] + 2 * pad);
      current_shape[a] += 2 * pad;
    }
    for (std::size_t a = 0; a < shape.size(); ++a) cubic_prefilter_axis(current, current_shape, a);
  }
  for (std::size_t a = 0; a < shape.size(); ++a) {
    current = detail::apply_taps(current, current_shape, a, zoom_taps(shape[a], new_shape[a], pad, order), new_shape[a]);
    current_shape[a] = new_shape[a];
  }
  // skimage's _clip_warp_output: the result stays within the input's range.
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  for (auto& v : current) v = std::clamp(v, *lo, *hi);
  return current;
}

std::vector<double> resize_segmentation(std::span<const double> labels, const Shape& shape, const Shape& new_shape,
                                        int order) {
  if (order == 0) {
    auto out = resize_edge(labels, shape, new_shape, 0);
    for (auto& v : out) v = std::trunc(v);  // .astype(original integer dtype)
    return out;
  }
  check_resize_args(labels, shape, new_shape, order);
  std::map<double, bool> unique;
  for (double v : labels) unique[v] = true;
  std::vector<double> out(static_cast<std::size_t>(shape_numel(new_shape)), 0.0);
  std::vector<double> mask(labels.size());
  for (const auto& [label, _] : unique) {
    for (std::size_t i = 0; i < labels.size(); ++i) mask[i] = labels[i] == label ? 1.0 : 0.0;
    const auto resized = resize_edge(mask, shape, new_shape, order);
    for (std::size_t i = 0; i < out.size(); ++i)
      if (resized[i] >= 0.5) out[i] = label;
  }
  return out;
}

namespace detail {

std::vector<double> resize_one_axis(std::span<const double> values, const Shape& shape, std::size_t axis,
                                    std::int64_t new_len, int order) {
  Shape new_shape = shape;
  new_shape.at(axis) = new_len;
  check_resize_args(values, shape, new_shape, order);
  std::vector<double> current(values.begin(), values.end());
  Shape current_shape = shape;
  const std::int64_t pad = order > 1 ? kSplinePad : 0;
  if (order > 1) {
    current = detail::apply_taps(current, current_shape, axis, edge_pad_taps(shape[axis], pad), shape[axis] + 2 * pad);
    current_shape[axis] += 2 * pad;
    cubic_prefilter_axis(current, current_shape, axis);
  }
  return detail::apply_taps(current, current_shape, axis, zoom_taps(shape[axis], new_len, pad, order), new_len);
}

}  // namespace detail

Shape compute_new_shape(const Shape& old_shape, std::span<const double> old_spacing,
                        std::span<const double> new_spacing) {
  if (old_shape.size() != old_spacing.size() || old_shape.size() != new_spacing.size())
    throw UsageError("compute_new_shape: shape " + shape_string(old_shape) + " and spacings differ in length");
  Shape out;
  for (std::size_t a = 0; a < old_shape.size(); ++a) {
    if (!(old_spacing[a] > 0) || !(new_spacing[a] > 0)) throw UsageError("compute_new_shape: spacing must be > 0");
    // Python's round(): ties to even, which nearbyint does in the default rounding mode.
    out.push_back(static_cast<std::int64_t>(
        std::nearbyint(old_spacing[a] / new_spacing[a] * static_cast<double>(old_shape[a]))));
  }
  return out;
}

}  // namespace medport::imaging
