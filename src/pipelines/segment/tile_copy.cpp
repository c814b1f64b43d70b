#include "tile_copy.hpp"

namespace medport::segment {

Box3 Box3::from(std::span<const std::int64_t> extent) {
  Box3 box;
  const std::size_t n = extent.size() < 3 ? extent.size() : 3;
  for (std::size_t i = 0; i < n; ++i) box.size[3 - n + i] = extent[extent.size() - n + i];
  return box;
}

std::array<std::int64_t, 3> Box3::origin_from(std::span<const std::int64_t> origin) {
  std::array<std::int64_t, 3> out{0, 0, 0};
  const std::size_t n = origin.size() < 3 ? origin.size() : 3;
  for (std::size_t i = 0; i < n; ++i) out[3 - n + i] = origin[origin.size() - n + i];
  return out;
}

void extract_tile(const float* src, const Box3& volume, const std::array<std::int64_t, 3>& origin, const Box3& patch,
                  const Flip3& flip, float* dst) {
  const auto [pz, py, px] = patch.size;
  const std::int64_t vy = volume.size[1], vx = volume.size[2];
  for (std::int64_t z = 0; z < pz; ++z) {
    const std::int64_t sz = origin[0] + (flip.axis[0] ? pz - 1 - z : z);
    for (std::int64_t y = 0; y < py; ++y) {
      const std::int64_t sy = origin[1] + (flip.axis[1] ? py - 1 - y : y);
      const float* row = src + (sz * vy + sy) * vx + origin[2];
      float* out = dst + (z * py + y) * px;
      if (flip.axis[2]) {
        for (std::int64_t x = 0; x < px; ++x) out[x] = row[px - 1 - x];
      } else {
        for (std::int64_t x = 0; x < px; ++x) out[x] = row[x];
      }
    }
  }
}

void add_unflipped(const float* src, const Box3& patch, const Flip3& flip, bool assign, float* dst) {
  const auto [pz, py, px] = patch.size;
  for (std::int64_t z = 0; z < pz; ++z) {
    const std::int64_t sz = flip.axis[0] ? pz - 1 - z : z;
    for (std::int64_t y = 0; y < py; ++y) {
      const std::int64_t sy = flip.axis[1] ? py - 1 - y : y;
      const float* row = src + (sz * py + sy) * px;
      float* out = dst + (z * py + y) * px;
      if (assign && !flip.axis[2]) {
        for (std::int64_t x = 0; x < px; ++x) out[x] = row[x];
      } else if (assign) {
        for (std::int64_t x = 0; x < px; ++x) out[x] = row[px - 1 - x];
      } else if (flip.axis[2]) {
        for (std::int64_t x = 0; x < px; ++x) out[x] += row[px - 1 - x];
      } else {
        for (std::int64_t x = 0; x < px; ++x) out[x] += row[x];
      }
    }
  }
}

void accumulate_weighted(const float* prediction, const float* weights, std::int64_t classes, const Box3& patch,
                         const std::array<std::int64_t, 3>& origin, const Box3& volume, float* logits,
                         float* weight_sum) {
  const auto [pz, py, px] = patch.size;
  const std::int64_t vy = volume.size[1], vx = volume.size[2];
  const std::int64_t volume_numel = volume.numel();
  const std::int64_t patch_numel = patch.numel();
  for (std::int64_t k = 0; k <= classes; ++k) {
    // k == classes: the weight map itself.
    float* target = k < classes ? logits + k * volume_numel : weight_sum;
    const float* pred = prediction + k * patch_numel;
    for (std::int64_t z = 0; z < pz; ++z)
      for (std::int64_t y = 0; y < py; ++y) {
        float* out = target + ((origin[0] + z) * vy + origin[1] + y) * vx + origin[2];
        const float* w = weights + (z * py + y) * px;
        if (k < classes) {
          const float* p = pred + (z * py + y) * px;
          for (std::int64_t x = 0; x < px; ++x) out[x] += p[x] * w[x];
        } else {
          for (std::int64_t x = 0; x < px; ++x) out[x] += w[x];
        }
      }
  }
}

}  // namespace medport::segment
