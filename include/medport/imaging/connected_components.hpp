#pragma once
// Connected components of a binary mask over a 2D (rows, cols) or 3D (depth, rows, cols) grid,
// numbered in raster order of their first voxel (as scipy.ndimage.label numbers them, from 0).
// echo-ef keeps the largest LV region with it, few-shot its largest component per class.
#include <cstdint>
#include <span>
#include <vector>

namespace medport::imaging {

struct Components {
  std::vector<std::int32_t> label;  // per voxel: its component, -1 where the mask is 0
  std::vector<std::int64_t> sizes;  // voxels per component, in raster order of their first voxel

  // The largest component (the first in raster order on a tie); -1 when there is none.
  std::int32_t largest() const;
};

// The non-zero voxels of `mask` (row-major over `shape`, 2 or 3 positive axes) joined through
// `connectivity` neighbours: 4 (edges) or 8 (and corners) in 2D; 6 (faces), 18 (and edges) or
// 26 (and corners) in 3D. UsageError for another connectivity or a mask that does not fit.
Components label_components(std::span<const std::uint8_t> mask, std::span<const std::int64_t> shape, int connectivity);

}  // namespace medport::imaging
