#pragma once
// Tile copies between a padded volume and patch-sized buffers, with axis flips. 2D data is
// treated as a 3D box of depth 1, so one set of loops serves both.
#include <array>
#include <cstdint>
#include <span>

namespace medport::segment {

struct Box3 {
  std::array<std::int64_t, 3> size{1, 1, 1};  // (z, y, x)
  std::int64_t numel() const { return size[0] * size[1] * size[2]; }
  // The last one, two or three entries of `extent` (leading axes default to 1).
  static Box3 from(std::span<const std::int64_t> extent);
  static std::array<std::int64_t, 3> origin_from(std::span<const std::int64_t> origin);
};

struct Flip3 {
  std::array<bool, 3> axis{false, false, false};
};

// dst (patch) = src (volume) at `origin`, flipped along the flagged axes.
void extract_tile(const float* src, const Box3& volume, const std::array<std::int64_t, 3>& origin, const Box3& patch,
                  const Flip3& flip, float* dst);

// dst (patch) += (or = when `assign`) src (patch) flipped along the flagged axes (a flip is its own inverse).
void add_unflipped(const float* src, const Box3& patch, const Flip3& flip, bool assign, float* dst);

// logits[k] at origin += prediction[k] * weights; weight_sum at origin += weights.
void accumulate_weighted(const float* prediction, const float* weights, std::int64_t classes, const Box3& patch,
                         const std::array<std::int64_t, 3>& origin, const Box3& volume, float* logits,
                         float* weight_sum);

}  // namespace medport::segment
