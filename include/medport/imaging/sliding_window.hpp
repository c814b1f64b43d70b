#pragma once
// nnU-Net v2 sliding-window geometry, reproduced exactly: tile steps
// (compute_steps_for_sliding_window), centred zero padding up to the patch size
// (acvl_utils pad_nd_image), the Gaussian importance map (compute_gaussian) and the
// test-time mirroring axis combinations (_internal_maybe_mirror_and_predict).
#include <cstdint>
#include <span>
#include <vector>

namespace medport::imaging {

using Extent = std::vector<std::int64_t>;

// Tile origins along each axis for an image at least as large as the patch:
// n = ceil((I - P) / (P * step_size)) + 1 tiles, origin_k = round_half_even(k * (I - P) / (n - 1)).
// Throws UsageError when ranks differ, an axis is smaller than the patch or step_size is not in (0, 1].
std::vector<std::vector<std::int64_t>> sliding_window_steps(std::span<const std::int64_t> image_size,
                                                            std::span<const std::int64_t> patch_size,
                                                            double step_size = 0.5);

// Every tile origin, first axis outermost (the order nnU-Net visits the tiles in).
std::vector<Extent> sliding_window_tile_origins(const std::vector<std::vector<std::int64_t>>& steps);

// Centred constant padding of the trailing axes so each is at least `min_size`; an odd extra
// voxel goes after the content. Axes already large enough are neither padded nor cropped.
struct Padding {
  Extent before;        // per trailing axis
  Extent after;
  Extent padded_size;   // the trailing axes after padding
  bool any() const;
};
Padding padding_to_min_size(std::span<const std::int64_t> size, std::span<const std::int64_t> min_size);

// Pads the trailing padding.before.size() axes of a row-major array of `shape` with `value`.
std::vector<float> pad_array(std::span<const float> values, std::span<const std::int64_t> shape,
                             const Padding& padding, float value = 0.0F);
// The inverse: crops the padded trailing axes back (shape is the padded array's shape).
std::vector<float> crop_padding(std::span<const float> values, std::span<const std::int64_t> shape,
                                const Padding& padding);

// Precision the importance map is stored in. nnU-Net's compute_gaussian defaults to float16
// (what nnUNetPredictor uses); the parity fixtures under /work/shared/fixtures/nnunet were
// made with a float32 map and float32 accumulation.
enum class GaussianPrecision { Float16, Float32 };

// nnU-Net's Gaussian importance map for a patch: a unit impulse at P//2 blurred with
// scipy.ndimage.gaussian_filter(sigma = P * sigma_scale, mode 'constant', truncate 4), divided
// by its maximum, times value_scaling, rounded to `precision`, zeros replaced by the smallest
// non-zero value. Returned as float32 (exactly the stored values), row-major over the patch.
std::vector<float> gaussian_importance_map(std::span<const std::int64_t> patch_size,
                                           GaussianPrecision precision = GaussianPrecision::Float16,
                                           double sigma_scale = 1.0 / 8.0, double value_scaling = 10.0);

// The flips nnU-Net averages at test time, given the allowed spatial axes (e.g. {0, 1} or
// {0, 1, 2}): every non-empty subset, by size then lexicographically, e.g. {0},{1},{0,1}.
// The un-flipped pass is not included; the average divides by size() + 1.
std::vector<std::vector<int>> mirror_axis_combinations(std::span<const int> allowed_axes);

// Reverses a row-major array of `shape` along the given axes (indices into shape).
std::vector<float> flip_axes(std::span<const float> values, std::span<const std::int64_t> shape,
                             std::span<const int> axes);

// Rounds a double to the nearest IEEE float16 value (ties to even, overflow to inf), as
// torch's float64 -> float16 cast does; the result is that fp16 value as a double.
double round_to_float16(double value);

}  // namespace medport::imaging
