// nnU-Net's resample_data_or_seg_to_shape: per channel, either one 3D resize, or (anisotropic
// spacing) a 2D resize of every slice across the low-resolution axis followed by order_z
// interpolation along that axis (map_coordinates, mode 'nearest').
#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "medport/error.hpp"
#include "medport/imaging/resample.hpp"
#include "resize_internal.hpp"

namespace medport::imaging {
namespace {

bool is_anisotropic(std::span<const double> spacing, double threshold) {
  const auto [lo, hi] = std::minmax_element(spacing.begin(), spacing.end());
  return *hi / *lo > threshold;
}

std::vector<int> lowres_axes(std::span<const double> spacing) {
  const double hi = *std::max_element(spacing.begin(), spacing.end());
  std::vector<int> axes;
  for (std::size_t a = 0; a < spacing.size(); ++a)
    if (hi / spacing[a] == 1.0) axes.push_back(static_cast<int>(a));
  return axes;
}

std::vector<double> resize_fn(std::span<const double> values, const Shape& shape, const Shape& new_shape,
                              const ResamplingOptions& options) {
  return options.is_seg ? resize_segmentation(values, shape, new_shape, options.order)
                        : resize_edge(values, shape, new_shape, options.order);
}

// One channel (Z, Y, X) resized slice by slice across `axis`, then along `axis` with order_z.
std::vector<double> resample_separately(const std::vector<double>& channel, const Shape& shape, const Shape& new_shape,
                                        int axis, const ResamplingOptions& options) {
  const auto ax = static_cast<std::size_t>(axis);
  Shape slice_shape, new_slice_shape;
  for (std::size_t a = 0; a < 3; ++a)
    if (a != ax) {
      slice_shape.push_back(shape[a]);
      new_slice_shape.push_back(new_shape[a]);
    }
  Shape stacked_shape = new_shape;
  stacked_shape[ax] = shape[ax];
  std::vector<double> stacked(static_cast<std::size_t>(shape_numel(stacked_shape)));
  std::vector<double> slice(static_cast<std::size_t>(shape_numel(slice_shape)));
  auto index3 = [](const Shape& s, std::int64_t i0, std::int64_t i1, std::int64_t i2) {
    return static_cast<std::size_t>((i0 * s[1] + i1) * s[2] + i2);
  };
  auto place = [ax](std::int64_t k, std::int64_t u, std::int64_t v) -> std::array<std::int64_t, 3> {
    if (ax == 0) return {k, u, v};
    if (ax == 1) return {u, k, v};
    return {u, v, k};
  };
  for (std::int64_t k = 0; k < shape[ax]; ++k) {
    for (std::int64_t u = 0; u < slice_shape[0]; ++u)
      for (std::int64_t v = 0; v < slice_shape[1]; ++v) {
        const auto p = place(k, u, v);
        slice[static_cast<std::size_t>(u * slice_shape[1] + v)] = channel[index3(shape, p[0], p[1], p[2])];
      }
    const auto resized = resize_fn(slice, slice_shape, new_slice_shape, options);
    for (std::int64_t u = 0; u < new_slice_shape[0]; ++u)
      for (std::int64_t v = 0; v < new_slice_shape[1]; ++v) {
        const auto p = place(k, u, v);
        stacked[index3(stacked_shape, p[0], p[1], p[2])] = resized[static_cast<std::size_t>(u * new_slice_shape[1] + v)];
      }
  }
  if (shape[ax] == new_shape[ax]) return stacked;
  if (!options.is_seg || options.order_z == 0)
    return detail::resize_one_axis(stacked, stacked_shape, ax, new_shape[ax], options.order_z);
  // Segmentations with order_z > 0: each label as a 0/1 mask, rounded, painted where > 0.5.
  std::map<double, bool> unique;
  for (double v : stacked) unique[v] = true;
  std::vector<double> out(static_cast<std::size_t>(shape_numel(new_shape)), 0.0);
  std::vector<double> mask(stacked.size());
  for (const auto& [label, _] : unique) {
    for (std::size_t i = 0; i < stacked.size(); ++i) mask[i] = stacked[i] == label ? 1.0 : 0.0;
    const auto moved = detail::resize_one_axis(mask, stacked_shape, ax, new_shape[ax], options.order_z);
    for (std::size_t i = 0; i < out.size(); ++i)
      if (std::nearbyint(moved[i]) > 0.5) out[i] = label;
  }
  return out;
}

}  // namespace

SeparateZDecision decide_separate_z(std::span<const double> current_spacing, std::span<const double> new_spacing,
                                    const ResamplingOptions& options) {
  if (current_spacing.empty() || current_spacing.size() != new_spacing.size())
    throw UsageError("resampling: current and new spacing must have the same, non-zero length");
  for (std::size_t a = 0; a < current_spacing.size(); ++a)
    if (!(current_spacing[a] > 0) || !(new_spacing[a] > 0)) throw UsageError("resampling: spacing must be > 0");
  std::vector<int> axes;
  bool separate = false;
  if (options.force_separate_z.has_value()) {
    separate = *options.force_separate_z;
    if (separate) axes = lowres_axes(current_spacing);
  } else if (is_anisotropic(current_spacing, options.anisotropy_threshold)) {
    separate = true;
    axes = lowres_axes(current_spacing);
  } else if (is_anisotropic(new_spacing, options.anisotropy_threshold)) {
    separate = true;
    axes = lowres_axes(new_spacing);
  }
  if (axes.size() != 1) return {};
  return {separate, separate ? axes[0] : -1};
}

std::vector<float> resample_to_shape(std::span<const float> data, const Shape& shape, const Shape& new_shape,
                                     std::span<const double> current_spacing, std::span<const double> new_spacing,
                                     const ResamplingOptions& options) {
  if (shape.size() != 4 || new_shape.size() != 3)
    throw UsageError("resampling: data must be (C, Z, Y, X) and the new shape 3 sizes, got " + shape_string(shape) +
                     " -> " + shape_string(new_shape));
  if (static_cast<std::int64_t>(data.size()) != shape_numel(shape))
    throw UsageError("resampling: " + std::to_string(data.size()) + " values for shape " + shape_string(shape));
  const auto decision = decide_separate_z(current_spacing, new_spacing, options);
  const Shape spatial(shape.begin() + 1, shape.end());
  if (spatial == new_shape) return {data.begin(), data.end()};
  const std::int64_t in_voxels = shape_numel(spatial);
  const std::int64_t out_voxels = shape_numel(new_shape);
  std::vector<float> out(static_cast<std::size_t>(shape[0] * out_voxels));
  for (std::int64_t c = 0; c < shape[0]; ++c) {
    const std::vector<double> channel(data.begin() + c * in_voxels, data.begin() + (c + 1) * in_voxels);
    const auto resized = decision.separate ? resample_separately(channel, spatial, new_shape, decision.axis, options)
                                           : resize_fn(channel, spatial, new_shape, options);
    std::transform(resized.begin(), resized.end(), out.begin() + c * out_voxels,
                   [](double v) { return static_cast<float>(v); });
  }
  return out;
}

}  // namespace medport::imaging
