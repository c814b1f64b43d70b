#include "medport/metrics/segmentation_metrics.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "medport/error.hpp"
#include "medport/metrics/distance_transform.hpp"

namespace medport::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double ratio_or_nan(std::int64_t numerator, std::int64_t denominator) {
  return denominator > 0 ? static_cast<double>(numerator) / static_cast<double>(denominator) : kNaN;
}

double max_or_nan(const std::vector<double>& values) {
  if (values.empty()) return kNaN;
  return *std::max_element(values.begin(), values.end());
}

double mean_or_nan(const std::vector<double>& values) {
  if (values.empty()) return kNaN;
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

std::vector<double> spacing_of(const imaging::LabelImage& image) {
  std::vector<double> spacing;
  for (std::size_t a = 0; a < image.ndim(); ++a) spacing.push_back(image.spacing_at(a));
  return spacing;
}

}  // namespace

std::vector<std::uint8_t> mask_boundary(std::span<const std::uint8_t> mask, std::span<const std::int64_t> shape) {
  std::int64_t total = 1;
  for (auto extent : shape) total *= extent;
  if (shape.empty() || static_cast<std::int64_t>(mask.size()) != total) {
    throw InputError("mask boundary", "mask size does not match the shape");
  }
  const std::size_t ndim = shape.size();
  std::vector<std::int64_t> strides(ndim, 1);
  for (std::size_t a = ndim; a-- > 1;) strides[a - 1] = strides[a] * shape[a];
  std::vector<std::uint8_t> boundary(mask.size(), 0);
  std::vector<std::int64_t> index(ndim, 0);
  for (std::int64_t i = 0; i < total; ++i) {
    if (mask[static_cast<std::size_t>(i)] != 0) {
      bool interior = true;
      for (std::size_t a = 0; a < ndim && interior; ++a) {
        if (index[a] == 0 || index[a] == shape[a] - 1) {
          interior = false;
        } else {
          interior = mask[static_cast<std::size_t>(i - strides[a])] != 0 && mask[static_cast<std::size_t>(i + strides[a])] != 0;
        }
      }
      boundary[static_cast<std::size_t>(i)] = interior ? 0 : 1;
    }
    for (std::size_t a = ndim; a-- > 0;) {
      if (++index[a] < shape[a]) break;
      index[a] = 0;
    }
  }
  return boundary;
}

std::vector<double> directed_boundary_distances(std::span<const std::uint8_t> from_boundary,
                                                std::span<const std::uint8_t> to_boundary,
                                                std::span<const std::int64_t> shape,
                                                std::span<const double> spacing) {
  if (from_boundary.size() != to_boundary.size()) throw InputError("surface distance", "masks differ in size");
  const bool to_empty = std::none_of(to_boundary.begin(), to_boundary.end(), [](auto v) { return v != 0; });
  std::vector<double> field;
  if (!to_empty) field = distance_to_nearest_feature(to_boundary, shape, spacing);
  std::vector<double> distances;
  for (std::size_t i = 0; i < from_boundary.size(); ++i) {
    if (from_boundary[i] != 0) distances.push_back(to_empty ? kInf : field[i]);
  }
  return distances;
}

double percentile_linear(std::vector<double> values, double q) {
  if (!(q >= 0.0 && q <= 100.0)) throw UsageError("percentile must be within [0, 100]");
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  const double position = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  if (fraction == 0.0 || values[below] == values[above]) return values[below];
  return values[below] + fraction * (values[above] - values[below]);
}

std::vector<LabelMetrics> segmentation_metrics(const imaging::LabelImage& prediction,
                                               const imaging::LabelImage& reference,
                                               const MetricsOptions& options) {
  prediction.validate("prediction");
  reference.validate("reference");
  if (prediction.shape != reference.shape) {
    throw InputError("prediction", "shape " + shape_string(prediction.shape) + " differs from the reference's " +
                                       shape_string(reference.shape));
  }
  // The reference's spacing wins; the prediction's may be absent but must agree if given.
  const imaging::LabelImage& geometry = reference.spacing.empty() ? prediction : reference;
  if (!prediction.spacing.empty() && !reference.spacing.empty()) {
    for (std::size_t a = 0; a < reference.ndim(); ++a) {
      if (std::fabs(prediction.spacing[a] - reference.spacing[a]) > 1e-6 * reference.spacing[a]) {
        throw InputError("prediction", "spacing differs from the reference's");
      }
    }
  }
  const auto spacing = spacing_of(geometry);
  double diagonal_sq = 0.0;
  for (std::size_t a = 0; a < geometry.ndim(); ++a) {
    const double extent = static_cast<double>(geometry.shape[a]) * spacing[a];
    diagonal_sq += extent * extent;
  }

  std::vector<std::uint8_t> labels = options.labels;
  if (labels.empty()) {
    std::vector<bool> present(256, false);
    for (auto v : prediction.labels) present[v] = true;
    for (auto v : reference.labels) present[v] = true;
    for (int l = 1; l < 256; ++l) {
      if (present[static_cast<std::size_t>(l)]) labels.push_back(static_cast<std::uint8_t>(l));
    }
  }

  // Surface distances only involve voxels inside the union's bounding box: work on that box
  // plus one background voxel of margin (clamped to the image, whose outside already counts
  // as background), which gives the same boundaries and distances at a fraction of the cost.
  const std::size_t ndim = geometry.ndim();
  std::vector<std::int64_t> shape3(3 - ndim, 1);
  shape3.insert(shape3.end(), geometry.shape.begin(), geometry.shape.end());

  std::vector<LabelMetrics> results;
  for (auto label : labels) {
    LabelMetrics m;
    m.label = label;
    m.worst_case_mm = std::sqrt(diagonal_sq);
    std::array<std::int64_t, 3> lo{shape3[0], shape3[1], shape3[2]};
    std::array<std::int64_t, 3> hi{-1, -1, -1};
    std::size_t i = 0;
    for (std::int64_t z = 0; z < shape3[0]; ++z) {
      for (std::int64_t r = 0; r < shape3[1]; ++r) {
        for (std::int64_t c = 0; c < shape3[2]; ++c, ++i) {
          const bool in_pred = prediction.labels[i] == label;
          const bool in_ref = reference.labels[i] == label;
          m.prediction_voxels += in_pred ? 1 : 0;
          m.reference_voxels += in_ref ? 1 : 0;
          m.true_positives += in_pred && in_ref ? 1 : 0;
          if (in_pred || in_ref) {
            const std::array<std::int64_t, 3> at{z, r, c};
            for (std::size_t a = 0; a < 3; ++a) {
              lo[a] = std::min(lo[a], at[a]);
              hi[a] = std::max(hi[a], at[a]);
            }
          }
        }
      }
    }
    const std::int64_t sum = m.prediction_voxels + m.reference_voxels;
    const std::int64_t union_voxels = sum - m.true_positives;
    if (m.reference_voxels > 0) {
      m.dice = 2.0 * static_cast<double>(m.true_positives) / static_cast<double>(sum);
      m.iou = static_cast<double>(m.true_positives) / static_cast<double>(union_voxels);
    } else if (options.ignore_empty) {
      m.dice = kNaN;
      m.iou = kNaN;
    } else {
      m.dice = m.prediction_voxels == 0 ? 1.0 : 0.0;
      m.iou = m.prediction_voxels == 0 ? 1.0 : 0.0;
    }
    m.precision = ratio_or_nan(m.true_positives, m.prediction_voxels);
    m.recall = ratio_or_nan(m.true_positives, m.reference_voxels);

    if (m.prediction_voxels == 0 && m.reference_voxels == 0) {
      m.hausdorff_mm = m.hd95_mm = m.assd_mm = kNaN;
    } else if (m.prediction_voxels == 0 || m.reference_voxels == 0) {
      m.hausdorff_mm = m.hd95_mm = m.assd_mm = kInf;
    } else {
      for (std::size_t a = 3 - ndim; a < 3; ++a) {
        lo[a] = std::max<std::int64_t>(lo[a] - 1, 0);
        hi[a] = std::min<std::int64_t>(hi[a] + 1, shape3[a] - 1);
      }
      std::vector<std::int64_t> box;
      for (std::size_t a = 3 - ndim; a < 3; ++a) box.push_back(hi[a] - lo[a] + 1);
      std::vector<std::uint8_t> pred_mask;
      std::vector<std::uint8_t> ref_mask;
      for (std::int64_t z = lo[0]; z <= hi[0]; ++z) {
        for (std::int64_t r = lo[1]; r <= hi[1]; ++r) {
          for (std::int64_t c = lo[2]; c <= hi[2]; ++c) {
            const auto index = static_cast<std::size_t>((z * shape3[1] + r) * shape3[2] + c);
            pred_mask.push_back(prediction.labels[index] == label ? 1 : 0);
            ref_mask.push_back(reference.labels[index] == label ? 1 : 0);
          }
        }
      }
      const auto pred_boundary = mask_boundary(pred_mask, box);
      const auto ref_boundary = mask_boundary(ref_mask, box);
      const auto pred_to_ref = directed_boundary_distances(pred_boundary, ref_boundary, box, spacing);
      const auto ref_to_pred = directed_boundary_distances(ref_boundary, pred_boundary, box, spacing);
      m.hausdorff_mm = std::max(max_or_nan(pred_to_ref), max_or_nan(ref_to_pred));
      m.hd95_mm = std::max(percentile_linear(pred_to_ref, options.hausdorff_percentile),
                           percentile_linear(ref_to_pred, options.hausdorff_percentile));
      std::vector<double> pooled = pred_to_ref;
      pooled.insert(pooled.end(), ref_to_pred.begin(), ref_to_pred.end());
      m.assd_mm = mean_or_nan(pooled);
    }
    results.push_back(m);
  }
  return results;
}

}  // namespace medport::metrics
