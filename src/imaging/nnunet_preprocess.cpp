// DefaultPreprocessor.run_case_npy for inference: transpose_forward, crop to nonzero, normalize,
// resample to the configuration's spacing (2D configurations keep the out-of-plane spacing).
#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"

namespace medport::imaging::nnunet {

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
  for (auto s : rec.shape_after_resampling)
    if (s < 1) throw InputError(image.source, "resampling to the target spacing leaves an empty axis");

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
