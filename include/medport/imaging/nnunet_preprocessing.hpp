#pragma once
// nnU-Net v2 inference preprocessing and export, step for step as upstream
// (DefaultPreprocessor.run_case_npy, cropping.crop_to_nonzero, default normalization schemes,
// export_prediction.convert_predicted_logits_to_segmentation_with_correct_shape).
// Arrays are float32 (C, Z, Y, X): call to_nnunet_layout() on 2D images first (preprocess()
// does it itself).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/imaging/image.hpp"
#include "medport/imaging/resample.hpp"

namespace medport::imaging::nnunet {

enum class NormalizationScheme : std::uint8_t { ZScore, CT, NoNorm, RescaleTo01, RGBTo01 };
// "ZScoreNormalization", "CTNormalization", "NoNormalization", "RescaleTo01Normalization",
// "RGBTo0_1Normalization" (the plans' class names); throws InputError for others.
NormalizationScheme normalization_scheme_from_name(std::string_view name);

// plans foreground_intensity_properties_per_channel[c] (what CTNormalization uses).
struct IntensityProperties {
  double mean = 0, std = 1, percentile_00_5 = 0, percentile_99_5 = 0;
};
struct ChannelNormalization {
  NormalizationScheme scheme = NormalizationScheme::ZScore;
  bool use_mask_for_norm = false;
  std::optional<IntensityProperties> intensity;  // required by CT
};

struct PreprocessingConfig {
  std::vector<ChannelNormalization> normalization;  // one per input channel
  std::vector<double> target_spacing;               // configuration spacing (2 or 3 values, transposed)
  std::vector<int> transpose_forward{0, 1, 2};
  std::vector<int> transpose_backward{0, 1, 2};
  ResamplingOptions data_resampling = data_resampling_defaults();
  ResamplingOptions seg_resampling = seg_resampling_defaults();
  ResamplingOptions probabilities_resampling = probabilities_resampling_defaults();
};
// From a converter sidecar (OUT.medport.json: normalization[], preprocessing.*). Throws
// InputError naming `source` for missing/invalid fields or resampling functions other than
// resample_data_or_seg_to_shape.
PreprocessingConfig config_from_sidecar(const nlohmann::json& sidecar, const std::string& source);

// Half-open [begin, end) per spatial axis.
using BoundingBox = std::vector<std::array<std::int64_t, 2>>;

// What export needs to undo preprocessing (nnU-Net's properties dict).
struct PreprocessingRecord {
  std::vector<double> spacing;             // input spacing, array order, before transpose (3 values)
  std::vector<double> spacing_transposed;  // after transpose_forward
  std::vector<double> target_spacing;      // 3 values (2D configs: spacing_transposed[0] prepended)
  Shape shape_before_cropping;             // spatial, after transpose_forward
  BoundingBox bbox;                        // bbox_used_for_cropping
  Shape shape_after_cropping;              // shape_after_cropping_and_before_resampling
  Shape shape_after_resampling;
};

struct PreprocessedCase {
  Shape shape;               // (C, Z, Y, X) after resampling
  std::vector<float> data;
  std::vector<float> seg;    // the nonzero-mask seg (0 inside, -1 outside), resampled (1, Z, Y, X)
  PreprocessingRecord record;
};

// --- the individual steps ---
// Row-major permutation of a (C, *spatial) array's spatial axes: out axis i+1 = in axis perm[i]+1.
std::vector<float> transpose_spatial(std::span<const float> data, const Shape& shape, std::span<const int> perm,
                                     Shape* out_shape);
// scipy.ndimage.binary_fill_holes with the default (face) connectivity for the mask's rank.
std::vector<std::uint8_t> binary_fill_holes(std::span<const std::uint8_t> mask, const Shape& shape);
// acvl_utils get_bbox_from_mask: half-open bbox of the nonzero voxels, the whole array when none.
BoundingBox bbox_from_mask(std::span<const std::uint8_t> mask, const Shape& shape);
// crop_to_nonzero: mask = fill_holes(any channel != 0), data cropped to its bbox, seg = 0 inside
// the cropped mask and -1 outside.
struct CropResult {
  Shape shape;
  std::vector<float> data;
  std::vector<float> seg;  // (1, *cropped spatial)
  BoundingBox bbox;
};
CropResult crop_to_nonzero(std::span<const float> data, const Shape& shape);
// One channel in place (the default normalization schemes; float32 arithmetic as numpy does it).
// `seg` (same voxel count, may be empty) marks the mask (seg >= 0) for use_mask_for_norm.
void normalize_channel(std::span<float> channel, std::span<const float> seg, const ChannelNormalization& norm);

// --- whole pipeline ---
// Refused (InputError naming the image) before anything is resampled: a resampled image of more
// than kMaxResampledVoxels values (channels x voxels), and a 2-D image given to a 3-D
// configuration whose slice spacing would turn it into more than one slice.
inline constexpr double kMaxResampledVoxels = 268435456.0;  // 2^28
PreprocessedCase preprocess(const Image& image, const PreprocessingConfig& config);

struct LabelConfig {
  bool has_regions = false;
  std::vector<int> regions_class_order;  // painting order (regions only)
};
// From the sidecar's labels object.
LabelConfig label_config_from_sidecar(const nlohmann::json& sidecar, const std::string& source);

// Region-based models (nnU-Net's LabelManager with regions): the sigmoid of every logit (float32,
// as torch.sigmoid), and the label map painted from probabilities (R, voxels): voxels whose region
// r has probability > 0.5 get regions_class_order[r], regions taken in order (later ones win).
void sigmoid_in_place(std::span<float> values);
std::vector<std::uint8_t> paint_regions(std::span<const float> probabilities, std::span<const int> regions_class_order);

struct ExportedPrediction {
  Shape shape;                         // spatial shape of the original image (after transpose_backward)
  std::vector<std::uint8_t> labels;
  Shape probabilities_shape;           // (K, *shape) when requested, else empty
  std::vector<float> probabilities;    // softmax (or sigmoid for regions), background 1 outside the bbox
};
// logits: (K, *record.shape_after_resampling). Resamples them (probabilities_resampling) to the
// cropped shape, applies softmax/argmax (or sigmoid > 0.5 painted in regions_class_order),
// pastes into zeros of shape_before_cropping at the bbox and applies transpose_backward.
ExportedPrediction export_prediction(std::span<const float> logits, const Shape& logits_shape,
                                     const PreprocessingRecord& record, const PreprocessingConfig& config,
                                     const LabelConfig& labels, bool with_probabilities = false);

}  // namespace medport::imaging::nnunet
