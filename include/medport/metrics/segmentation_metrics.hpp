#pragma once
// Per-label overlap and surface-distance metrics between a predicted and a reference label
// map, 2D or 3D, distances in mm from the image spacing. Conventions follow MONAI
// (DiceMetric, MeanIoU, ConfusionMatrixMetric, HausdorffDistanceMetric, SurfaceDistanceMetric);
// docs/METRICS.md spells out every empty-mask case.
#include <cstdint>
#include <span>
#include <vector>

#include "medport/imaging/label_image.hpp"

namespace medport::metrics {

struct MetricsOptions {
  // Labels to evaluate; empty = every non-zero label present in either image, ascending.
  std::vector<std::uint8_t> labels;
  // MONAI's ignore_empty for Dice and IoU: NaN when the reference is empty. When false:
  // 1 if the prediction is empty too, else 0.
  bool ignore_empty = true;
  double hausdorff_percentile = 95.0;  // the "HD95" entry
};

struct LabelMetrics {
  std::uint8_t label = 0;
  std::int64_t reference_voxels = 0;
  std::int64_t prediction_voxels = 0;
  std::int64_t true_positives = 0;
  double dice = 0.0;
  double iou = 0.0;
  double precision = 0.0;  // TP / (TP + FP), NaN when the prediction is empty
  double recall = 0.0;     // TP / (TP + FN), NaN when the reference is empty
  // Surface distances (mm): NaN when both masks are empty, +inf when exactly one is.
  double hausdorff_mm = 0.0;
  double hd95_mm = 0.0;
  double assd_mm = 0.0;  // mean over both directions' boundary distances pooled together
  // What aggregation substitutes for +inf distances: the image's diagonal extent in mm.
  double worst_case_mm = 0.0;
};

std::vector<LabelMetrics> segmentation_metrics(const imaging::LabelImage& prediction,
                                               const imaging::LabelImage& reference,
                                               const MetricsOptions& options = {});

// --- building blocks (exposed for tests and other pipelines) ---

// Boundary voxels of a binary mask: mask and not its erosion by the face-connected cross,
// with voxels outside the image counting as background (scipy binary_erosion ^ mask).
std::vector<std::uint8_t> mask_boundary(std::span<const std::uint8_t> mask, std::span<const std::int64_t> shape);

// For every boundary voxel of `from` (row-major order), the distance in mm to the nearest
// boundary voxel of `to`; +inf for each when `to` has none.
std::vector<double> directed_boundary_distances(std::span<const std::uint8_t> from_boundary,
                                                std::span<const std::uint8_t> to_boundary,
                                                std::span<const std::int64_t> shape,
                                                std::span<const double> spacing);

// torch.quantile / numpy 'linear' percentile (q in [0, 100]); NaN for an empty input.
double percentile_linear(std::vector<double> values, double q);

}  // namespace medport::metrics
