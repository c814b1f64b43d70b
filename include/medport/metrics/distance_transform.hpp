#pragma once
// Exact Euclidean distance transforms on 2D/3D grids with anisotropic spacing
// (Felzenszwalb & Huttenlocher's separable lower-envelope algorithm, one pass per axis).
#include <cstdint>
#include <span>
#include <vector>

#include "medport/imaging/label_image.hpp"

namespace medport::metrics {

// Distance (in the units of `spacing`) from every voxel to the nearest voxel where
// `features` is non-zero; 0 on the features, +inf everywhere when there is none.
// `shape` has 1-3 axes; `spacing` is empty (1 per axis) or one positive value per axis.
std::vector<double> distance_to_nearest_feature(std::span<const std::uint8_t> features,
                                                std::span<const std::int64_t> shape,
                                                std::span<const double> spacing);

// scipy.ndimage.distance_transform_edt(image, sampling=image.spacing): for every non-zero
// voxel the distance to the nearest zero voxel, 0 on zero voxels (+inf if there is no zero).
std::vector<double> euclidean_distance_transform(const imaging::LabelImage& image);

}  // namespace medport::metrics
