// Probabilities -> binary masks: threshold, connected components, 3D morphology.
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "medport/error.hpp"
#include "medport/imaging/connected_components.hpp"
#include "medport/metrics/distance_transform.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"

namespace medport::pipelines::fewshot {
namespace {

void check_mask(std::span<const std::uint8_t> mask, const Grid& grid, const char* what) {
  if (grid.depth <= 0 || grid.height <= 0 || grid.width <= 0 || mask.size() != grid.voxels())
    throw UsageError(std::string(what) + ": mask of " + std::to_string(mask.size()) + " voxels does not fit the grid");
}

void check_connectivity(int connectivity) {
  if (connectivity != 6 && connectivity != 26) throw UsageError("connectivity must be 6 or 26");
}

std::array<std::int64_t, 3> shape_of(const Grid& grid) { return {grid.depth, grid.height, grid.width}; }

// Distance (voxel units) of every voxel to the nearest voxel whose mask value equals `value`.
std::vector<double> distance_to(std::span<const std::uint8_t> mask, const Grid& grid, std::uint8_t value) {
  std::vector<std::uint8_t> features(mask.size());
  for (std::size_t i = 0; i < mask.size(); ++i) features[i] = (mask[i] != 0) == (value != 0) ? 1 : 0;
  const std::int64_t shape[3] = {grid.depth, grid.height, grid.width};
  return metrics::distance_to_nearest_feature(features, shape, {});
}

}  // namespace

std::vector<float> sigmoid(std::span<const float> logits) {
  std::vector<float> out(logits.size());
  for (std::size_t i = 0; i < logits.size(); ++i)
    out[i] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(logits[i]))));
  return out;
}

std::vector<std::uint8_t> threshold_masks(std::span<const float> probabilities, double threshold) {
  std::vector<std::uint8_t> out(probabilities.size());
  for (std::size_t i = 0; i < probabilities.size(); ++i) out[i] = probabilities[i] > threshold ? 1 : 0;
  return out;
}

void keep_largest_component(std::span<std::uint8_t> mask, const Grid& grid, int connectivity) {
  check_mask(mask, grid, "largest component");
  check_connectivity(connectivity);
  const auto c = imaging::label_components(mask, shape_of(grid), connectivity);
  if (c.sizes.size() < 2) return;
  const std::int32_t best = c.largest();
  for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = c.label[i] == best ? 1 : 0;
}

void remove_small_objects(std::span<std::uint8_t> mask, const Grid& grid, std::int64_t min_voxels, int connectivity) {
  check_mask(mask, grid, "small objects");
  if (min_voxels <= 1) return;
  check_connectivity(connectivity);
  const auto c = imaging::label_components(mask, shape_of(grid), connectivity);
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (c.label[i] >= 0 && c.sizes[static_cast<std::size_t>(c.label[i])] < min_voxels) mask[i] = 0;
}

void fill_holes(std::span<std::uint8_t> mask, const Grid& grid) {
  check_mask(mask, grid, "fill holes");
  std::vector<std::uint8_t> background(mask.size());
  for (std::size_t i = 0; i < mask.size(); ++i) background[i] = mask[i] == 0 ? 1 : 0;
  const auto c = imaging::label_components(background, shape_of(grid), 6);
  std::vector<bool> reaches_border(c.sizes.size(), false);
  for (std::int64_t z = 0; z < grid.depth; ++z)
    for (std::int64_t y = 0; y < grid.height; ++y)
      for (std::int64_t x = 0; x < grid.width; ++x) {
        const bool border = y == 0 || x == 0 || y == grid.height - 1 || x == grid.width - 1 ||
                            (grid.depth > 1 && (z == 0 || z == grid.depth - 1));
        const auto i = static_cast<std::size_t>((z * grid.height + y) * grid.width + x);
        if (border && c.label[i] >= 0) reaches_border[static_cast<std::size_t>(c.label[i])] = true;
      }
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (c.label[i] >= 0 && !reaches_border[static_cast<std::size_t>(c.label[i])]) mask[i] = 1;
}

void erode(std::span<std::uint8_t> mask, const Grid& grid, int radius) {
  check_mask(mask, grid, "erosion");
  if (radius < 0) throw UsageError("the morphology radius must not be negative");
  if (radius == 0) return;
  // A voxel survives when no background voxel lies within the ball around it.
  const auto d = distance_to(mask, grid, 0);
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (mask[i] && d[i] <= radius) mask[i] = 0;
}

void dilate(std::span<std::uint8_t> mask, const Grid& grid, int radius) {
  check_mask(mask, grid, "dilation");
  if (radius < 0) throw UsageError("the morphology radius must not be negative");
  if (radius == 0) return;
  const auto d = distance_to(mask, grid, 1);
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i] && d[i] <= radius) mask[i] = 1;
}

void morphological_cleanup(std::span<std::uint8_t> mask, const Grid& grid, int radius) {
  if (radius == 0) return;
  erode(mask, grid, radius);
  dilate(mask, grid, radius);
  dilate(mask, grid, radius);
  erode(mask, grid, radius);
}

std::vector<std::uint8_t> make_class_masks(std::span<const float> probabilities, std::int64_t classes,
                                           const Grid& grid, const MaskOptions& options) {
  if (classes < 1 || probabilities.size() != static_cast<std::size_t>(classes) * grid.voxels())
    throw UsageError("probabilities must be (K, D, H, W) with K >= 1 over the grid");
  auto masks = threshold_masks(probabilities, options.threshold);
  const std::size_t per = grid.voxels();
  for (std::int64_t k = 0; k < classes; ++k) {
    std::span<std::uint8_t> one(masks.data() + static_cast<std::size_t>(k) * per, per);
    morphological_cleanup(one, grid, options.morphology_radius);
    remove_small_objects(one, grid, options.min_object_voxels, options.connectivity);
    if (options.fill_holes) fill_holes(one, grid);
    if (options.largest_component) keep_largest_component(one, grid, options.connectivity);
  }
  return masks;
}

std::optional<double> dice(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) throw UsageError("dice: masks of different sizes");
  std::int64_t both = 0, total = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    both += (a[i] && b[i]) ? 1 : 0;
    total += (a[i] ? 1 : 0) + (b[i] ? 1 : 0);
  }
  if (total == 0) return std::nullopt;
  return 2.0 * static_cast<double>(both) / static_cast<double>(total);
}

}  // namespace medport::pipelines::fewshot
