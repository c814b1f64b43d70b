#pragma once
// Resampling exactly as nnU-Net v2 does it (nnunetv2/preprocessing/resampling/default_resampling.py):
// skimage.transform.resize(order, mode='edge', anti_aliasing=False) - scipy.ndimage.zoom with
// grid_mode=True, mode 'nearest', a prefiltered B-spline for order > 1 (input edge-padded by
// 12 first, as scipy does), output clipped to the input's range - and the anisotropic rule.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::imaging {

// skimage resize of one array (any rank >= 1) with order 0, 1 or 3, computed in float64.
// Throws UsageError for other orders, non-positive output sizes or mismatched sizes.
std::vector<double> resize_edge(std::span<const double> values, const Shape& shape, const Shape& new_shape, int order);

// batchgenerators resize_segmentation: order 0 resizes the labels directly; otherwise each label
// is resized as a 0/1 mask and painted where the result is >= 0.5, in ascending label order.
std::vector<double> resize_segmentation(std::span<const double> labels, const Shape& shape, const Shape& new_shape,
                                        int order);

// new_shape = round(old_spacing / new_spacing * old_shape) per axis (Python round: half to even).
Shape compute_new_shape(const Shape& old_shape, std::span<const double> old_spacing,
                        std::span<const double> new_spacing);

// resample_data_or_seg_to_shape's keyword arguments (plans resampling_fn_*_kwargs).
struct ResamplingOptions {
  bool is_seg = false;
  int order = 3;
  int order_z = 0;
  std::optional<bool> force_separate_z;  // nullopt: decided by the anisotropy threshold
  double anisotropy_threshold = 3.0;     // nnunetv2.configuration.ANISO_THRESHOLD
};
inline ResamplingOptions data_resampling_defaults() { return {false, 3, 0, std::nullopt, 3.0}; }
inline ResamplingOptions seg_resampling_defaults() { return {true, 1, 0, std::nullopt, 3.0}; }
inline ResamplingOptions probabilities_resampling_defaults() { return {false, 1, 0, std::nullopt, 3.0}; }

// How resample_data_or_seg_to_shape resamples: separately along one low-resolution axis or not.
struct SeparateZDecision {
  bool separate = false;
  int axis = -1;  // the low-resolution axis (0..2) when separate
};
SeparateZDecision decide_separate_z(std::span<const double> current_spacing, std::span<const double> new_spacing,
                                    const ResamplingOptions& options);

// nnU-Net's resample_data_or_seg_to_shape on float32 data of shape (C, Z, Y, X) (3 spatial axes).
// Intermediate values are float64 and the result is float32, as upstream. Returns the input
// unchanged when the spatial shape already equals new_shape.
std::vector<float> resample_to_shape(std::span<const float> data, const Shape& shape, const Shape& new_shape,
                                     std::span<const double> current_spacing, std::span<const double> new_spacing,
                                     const ResamplingOptions& options);

}  // namespace medport::imaging
