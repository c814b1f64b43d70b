// DefaultPreprocessor.run_case_npy for inference: transpose_forward, crop to nonzero, normalize,
// resample to the configuration's spacing (2D configurations keep the out-of-plane spacing).
#include <algorithm>
#include <sstream>
#include <string>

#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"

namespace medport::imaging::nnunet {
namespace {

std::string numbers(const std::vector<double>& values) {
  std::ostringstream out;
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
  return out.str();
}

// The resampled image is what every later stage allocates (times the channels, the classes, the
// tiles): refused here, before any of it exists, when the spacing makes it absurd.
void check_resampled_shape(const Image& input, const PreprocessingRecord& rec, const PreprocessingConfig& config) {
  const Shape& shape = rec.shape_after_resampling;
  for (auto s : shape)
    if (s < 1) throw InputError(input.source, "resampling to the target spacing leaves an empty axis");
  double voxels = 1;
  for (auto s : shape) voxels *= static_cast<double>(s);
  if (voxels * static_cast<double>(input.channels()) > kMaxResampledVoxels)
    throw InputError(input.source, "spacing " + numbers(input.spacing) + " mm resampled to the model's " +
                                       numbers(rec.target_spacing) + " mm gives " + shape_string(shape) +
                                       ", more than the 2^28 voxels medport processes; check the spacing");
  // A 2-D image is one slice 999 x its pixel spacing thick (nnU-Net's convention): a 3-D model
  // with a finer slice spacing would stretch it into hundreds of copies of that slice.
  if (input.spatial_dims() == 2 && config.target_spacing.size() == 3) {
    const auto axis = static_cast<std::size_t>(
        std::find(config.transpose_forward.begin(), config.transpose_forward.end(), 0) - config.transpose_forward.begin());
    if (axis < shape.size() && shape[axis] > 1)
      throw InputError(input.source, "is a 2-D image but the model is 3-D: it would become " + std::to_string(shape[axis]) +
                                         " copies of the slice; give a volume (NIfTI, MetaImage, 3-D npy/TIFF)");
  }
}

}  // namespace

PreprocessedCase preprocess(const Image& input, const PreprocessingConfig& config) {
  input.validate();
  const Image image = to_nnunet_layout(input);
  if (config.transpose_forward.size() != 3)
    throw InputError(image.source, "transpose_forward must permute 3 axes");
  if (config.target_spacing.size() != 2 && config.target_spacing.size() != 3)
    throw InputError(image.source, "the target spacing must have 2 or 3 values");
  if (static_cast<std::size_t>(image.channels()) != config.normalization.size())
    throw InputError(image.source, "has " + std::to_string(image.channels()) + " channel(s), the model expects " +
                                       std::to_string(config.normalization.size()));
  PreprocessedCase out;
  auto& rec = out.record;
  rec.spacing = image.spacing;
  for (int p : config.transpose_forward) rec.spacing_transposed.push_back(image.spacing.at(static_cast<std::size_t>(p)));

  Shape transposed_shape;
  const auto transposed = transpose_spatial(image.data, image.shape, config.transpose_forward, &transposed_shape);
  rec.shape_before_cropping = Shape(transposed_shape.begin() + 1, transposed_shape.end());

  auto cropped = crop_to_nonzero(transposed, transposed_shape);
  rec.bbox = cropped.bbox;
  rec.shape_after_cropping = Shape(cropped.shape.begin() + 1, cropped.shape.end());

  rec.target_spacing = config.target_spacing;
  if (rec.target_spacing.size() < 3) rec.target_spacing.insert(rec.target_spacing.begin(), rec.spacing_transposed[0]);
  rec.shape_after_resampling = compute_new_shape(rec.shape_after_cropping, rec.spacing_transposed, rec.target_spacing);
  check_resampled_shape(input, rec, config);

  const auto voxels = static_cast<std::size_t>(shape_numel(rec.shape_after_cropping));
  for (std::size_t c = 0; c < config.normalization.size(); ++c)
    normalize_channel(std::span<float>(cropped.data).subspan(c * voxels, voxels), cropped.seg, config.normalization[c]);

  out.data = resample_to_shape(cropped.data, cropped.shape, rec.shape_after_resampling, rec.spacing_transposed,
                               rec.target_spacing, config.data_resampling);
  Shape seg_shape{1};
  seg_shape.insert(seg_shape.end(), rec.shape_after_cropping.begin(), rec.shape_after_cropping.end());
  out.seg = resample_to_shape(cropped.seg, seg_shape, rec.shape_after_resampling, rec.spacing_transposed,
                              rec.target_spacing, config.seg_resampling);
  out.shape = Shape{image.channels()};
  out.shape.insert(out.shape.end(), rec.shape_after_resampling.begin(), rec.shape_after_resampling.end());
  return out;
}

}  // namespace medport::imaging::nnunet
