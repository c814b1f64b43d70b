// export_prediction.convert_predicted_logits_to_segmentation_with_correct_shape: logits back to
// the cropped shape, nonlinearity, segmentation, un-cropping and transpose_backward.
#include <algorithm>
#include <cmath>

#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"

namespace medport::imaging::nnunet {
namespace {

// (K, *cropped) pasted into (K, *full) at the bbox; the rest is `fill[k]`.
std::vector<float> paste(std::span<const float> cropped, std::int64_t channels, const Shape& cropped_shape,
                         const Shape& full_shape, const BoundingBox& bbox, const std::vector<float>& fill) {
  const auto full_voxels = static_cast<std::size_t>(shape_numel(full_shape));
  const auto cropped_voxels = static_cast<std::size_t>(shape_numel(cropped_shape));
  std::vector<float> out(static_cast<std::size_t>(channels) * full_voxels);
  for (std::int64_t k = 0; k < channels; ++k)
    std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(k * static_cast<std::int64_t>(full_voxels)), full_voxels,
                fill[static_cast<std::size_t>(k)]);
  const Shape strides = contiguous_strides(full_shape);
  std::vector<std::int64_t> idx(cropped_shape.size(), 0);
  for (std::size_t i = 0; i < cropped_voxels; ++i) {
    std::int64_t dst = 0;
    for (std::size_t a = 0; a < idx.size(); ++a) dst += (idx[a] + bbox[a][0]) * strides[a];
    for (std::int64_t k = 0; k < channels; ++k)
      out[static_cast<std::size_t>(k) * full_voxels + static_cast<std::size_t>(dst)] =
          cropped[static_cast<std::size_t>(k) * cropped_voxels + i];
    for (std::size_t a = idx.size(); a-- > 0;) {
      if (++idx[a] < cropped_shape[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

}  // namespace

ExportedPrediction export_prediction(std::span<const float> logits, const Shape& logits_shape,
                                     const PreprocessingRecord& record, const PreprocessingConfig& config,
                                     const LabelConfig& labels, bool with_probabilities) {
  if (logits_shape.size() != 4 || static_cast<std::int64_t>(logits.size()) != shape_numel(logits_shape))
    throw UsageError("export: logits must be (K, Z, Y, X), got " + shape_string(logits_shape));
  if (record.shape_before_cropping.size() != 3 || record.bbox.size() != 3 || record.shape_after_cropping.size() != 3)
    throw UsageError("export: incomplete preprocessing record");
  const std::int64_t k_count = logits_shape[0];
  if (labels.has_regions && labels.regions_class_order.size() != static_cast<std::size_t>(k_count))
    throw InputError("export", "regions_class_order has " + std::to_string(labels.regions_class_order.size()) +
                                   " entries for " + std::to_string(k_count) + " sigmoid outputs");
  std::vector<double> current_spacing = config.target_spacing;
  if (current_spacing.size() != 3) current_spacing.insert(current_spacing.begin(), record.spacing_transposed.at(0));
  auto probs = resample_to_shape(logits, logits_shape, record.shape_after_cropping, current_spacing,
                                 record.spacing_transposed, config.probabilities_resampling);

  const auto voxels = static_cast<std::size_t>(shape_numel(record.shape_after_cropping));
  const auto kc = static_cast<std::size_t>(k_count);
  std::vector<float> seg(voxels, 0.0F);
  if (labels.has_regions) {
    if (labels.regions_class_order.size() != kc)
      throw InputError("regions", std::to_string(labels.regions_class_order.size()) + " regions in regions_class_order for " +
                                      std::to_string(kc) + " output channels");
    sigmoid_in_place(probs);
    const auto painted = paint_regions(probs, labels.regions_class_order);
    std::copy(painted.begin(), painted.end(), seg.begin());
  } else {
    for (std::size_t i = 0; i < voxels; ++i) {
      float top = probs[i];
      for (std::size_t k = 1; k < kc; ++k) top = std::max(top, probs[k * voxels + i]);
      float sum = 0.0F;
      for (std::size_t k = 0; k < kc; ++k) {
        probs[k * voxels + i] = std::exp(probs[k * voxels + i] - top);
        sum += probs[k * voxels + i];
      }
      std::size_t best = 0;
      for (std::size_t k = 0; k < kc; ++k) {
        probs[k * voxels + i] /= sum;
        if (probs[k * voxels + i] > probs[best * voxels + i]) best = k;
      }
      seg[i] = static_cast<float>(best);
    }
  }

  ExportedPrediction out;
  const Shape& full = record.shape_before_cropping;
  const auto pasted = paste(seg, 1, record.shape_after_cropping, full, record.bbox, {0.0F});
  Shape seg_shape{1};
  seg_shape.insert(seg_shape.end(), full.begin(), full.end());
  Shape back_shape;
  const auto back = transpose_spatial(pasted, seg_shape, config.transpose_backward, &back_shape);
  out.shape = Shape(back_shape.begin() + 1, back_shape.end());
  out.labels.resize(back.size());
  std::transform(back.begin(), back.end(), out.labels.begin(),
                 [](float v) { return static_cast<std::uint8_t>(v); });
  if (with_probabilities) {
    std::vector<float> fill(kc, 0.0F);
    if (!labels.has_regions) fill[0] = 1.0F;
    const auto full_probs = paste(probs, k_count, record.shape_after_cropping, full, record.bbox, fill);
    Shape probs_shape{k_count};
    probs_shape.insert(probs_shape.end(), full.begin(), full.end());
    out.probabilities = transpose_spatial(full_probs, probs_shape, config.transpose_backward, &out.probabilities_shape);
  }
  return out;
}

}  // namespace medport::imaging::nnunet
