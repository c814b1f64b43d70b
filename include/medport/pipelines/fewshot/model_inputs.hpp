#pragma once
// Images and masks of the few-shot pipeline read from files and brought to the IRIS model's fixed
// volume_shape (D,H,W) by preprocessing.hpp (3D volumes: NIfTI, MetaImage, npy (Z,Y,X); 2D
// images: PNG/JPEG/BMP/TIFF, npy (Y,X), colour converted to luminance), and the predictions
// back to the query's own grid, so masks, volumes and the label map are in the input's geometry
// and spacing.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medport/imaging/image.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"
#include "medport/pipelines/fewshot/preprocessing.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

struct ModelImage {
  imaging::Image original;  // as read: geometry, spacing, intensities for the montage
  Tensor model_input;       // (1,1,D,H,W) float32
  std::string sha256;       // of the file's bytes
};

// Reads a single-channel 2D image or 3D volume (InputError naming the file otherwise).
// `dicom` selects the series / frames of DICOM inputs.
ModelImage read_model_image(const std::filesystem::path& path, const Shape& volume_shape,
                            const PreprocessingSettings& settings, const dicom::Selection& dicom = {});

// A mask is either a label map (one channel, integer values 0..255: class c is where it equals c)
// or a multi-channel 0/1 array, e.g. npy (K,D,H,W), where channel c-1 is class c (overlaps allowed).
struct LabelFile {
  imaging::Image original;            // as read
  std::vector<std::int64_t> present;  // non-zero label values, ascending
  std::string sha256;
};
LabelFile read_label_file(const std::filesystem::path& path, const dicom::Selection& dicom = {});

// (1,K,D,H,W) 0/1 channels, one per class (label value), resampled (order 0) to volume_shape.
Tensor mask_channels_for_model(const LabelFile& mask, const std::vector<std::int64_t>& classes, const Shape& volume_shape,
                               const PreprocessingSettings& settings);
// (K, voxels) 0/1 channels on the file's own grid.
std::vector<std::uint8_t> mask_channels_native(const LabelFile& mask, const std::vector<std::int64_t>& classes);

// The grid of an image (depth 1 for 2D) and its spacing in the same axis order.
Grid grid_of(const imaging::Image& image);

// (K,D,H,W) probabilities at volume_shape -> (K, voxels of `query`'s grid).
std::vector<float> probabilities_to_query(const std::vector<float>& probabilities, std::int64_t classes,
                                          const Shape& volume_shape, const imaging::Image& query,
                                          const PreprocessingSettings& settings);

// The checks every pair of (image, mask) gets: same spatial shape.
void check_same_grid(const imaging::Image& image, const imaging::Image& mask);

}  // namespace medport::pipelines::fewshot
