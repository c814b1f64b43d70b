#include "medport/pipelines/fewshot/model_inputs.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/imaging/luminance.hpp"
#include "medport/util/file_io.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;

imaging::Image read_single_channel(const fs::path& path, const dicom::Selection& dicom) {
  imaging::ReadOptions options;
  options.dicom = dicom;
  imaging::Image image = imaging::to_luminance(imaging::read_image(path, options));
  if (image.channels() != 1)
    throw InputError(path.string(), "has " + std::to_string(image.channels()) + " channels; IRIS takes one");
  return image;
}

std::string file_sha256(const fs::path& path) { return sha256_hex(read_file(path)); }

}  // namespace

ModelImage read_model_image(const fs::path& path, const Shape& volume_shape, const PreprocessingSettings& settings,
                            const dicom::Selection& dicom) {
  ModelImage out;
  out.original = read_single_channel(path, dicom);
  for (float v : out.original.data)
    if (!std::isfinite(v)) throw InputError(path.string(), "contains NaN or infinite values");
  std::vector<float> volume;
  try {
    volume = image_to_volume(out.original.data, out.original.spatial_shape(), out.original.spacing, volume_shape, settings);
  } catch (const InputError& e) {
    throw InputError(path.string(), e.what());
  }
  out.model_input = Tensor::from_f32({1, 1, volume_shape[0], volume_shape[1], volume_shape[2]}, volume);
  out.sha256 = file_sha256(path);
  return out;
}

LabelFile read_label_file(const fs::path& path, const dicom::Selection& dicom) {
  LabelFile out;
  imaging::ReadOptions options;
  options.to_gray = true;
  options.dicom = dicom;
  out.original = imaging::read_image(path, options);
  const std::int64_t channels = out.original.channels();
  if (channels > 255) throw InputError(path.string(), "has " + std::to_string(channels) + " channels; at most 255 classes");
  const auto per = static_cast<std::size_t>(out.original.voxels_per_channel());
  std::set<std::int64_t> present;
  for (std::size_t i = 0; i < out.original.data.size(); ++i) {
    const float v = out.original.data[i];
    const bool ok = channels == 1 ? (v >= 0.0F && v <= 255.0F && v == std::floor(v)) : (v == 0.0F || v == 1.0F);
    if (!ok)
      throw InputError(path.string(), channels == 1 ? "a mask must hold integer label values 0..255 (found " + std::to_string(v) + ")"
                                                    : "a multi-channel mask must hold 0/1 per channel (found " + std::to_string(v) + ")");
    if (v != 0.0F) present.insert(channels == 1 ? static_cast<std::int64_t>(v) : static_cast<std::int64_t>(i / per) + 1);
  }
  out.present.assign(present.begin(), present.end());
  out.sha256 = file_sha256(path);
  return out;
}

namespace {

// Channel k of the mask as 0/1 doubles: label value == class (label map) or channel class-1 (one-hot).
std::vector<double> class_channel(const LabelFile& mask, std::int64_t class_id) {
  const auto per = static_cast<std::size_t>(mask.original.voxels_per_channel());
  std::vector<double> out(per, 0.0);
  if (mask.original.channels() == 1) {
    for (std::size_t i = 0; i < per; ++i) out[i] = static_cast<std::int64_t>(mask.original.data[i]) == class_id ? 1.0 : 0.0;
  } else if (class_id >= 1 && class_id <= mask.original.channels()) {
    const float* c = mask.original.data.data() + static_cast<std::size_t>(class_id - 1) * per;
    for (std::size_t i = 0; i < per; ++i) out[i] = c[i];
  }
  return out;
}

}  // namespace

Tensor mask_channels_for_model(const LabelFile& mask, const std::vector<std::int64_t>& classes, const Shape& volume_shape,
                               const PreprocessingSettings& settings) {
  std::vector<float> channels;
  for (auto c : classes) {
    const auto resized =
        mask_to_volume(class_channel(mask, c), mask.original.spatial_shape(), mask.original.spacing, volume_shape, settings);
    for (double v : resized) channels.push_back(v >= 0.5 ? 1.0F : 0.0F);
  }
  return Tensor::from_f32({1, static_cast<std::int64_t>(classes.size()), volume_shape[0], volume_shape[1], volume_shape[2]},
                          channels);
}

std::vector<std::uint8_t> mask_channels_native(const LabelFile& mask, const std::vector<std::int64_t>& classes) {
  std::vector<std::uint8_t> out;
  for (auto c : classes)
    for (double v : class_channel(mask, c)) out.push_back(v != 0.0 ? 1 : 0);
  return out;
}

Grid grid_of(const imaging::Image& image) {
  const Shape s = image.spatial_shape();
  if (s.size() == 2) return {1, s[0], s[1]};
  return {s[0], s[1], s[2]};
}

std::vector<float> probabilities_to_query(const std::vector<float>& probabilities, std::int64_t classes,
                                          const Shape& volume_shape, const imaging::Image& query,
                                          const PreprocessingSettings& settings) {
  return probabilities_to_grid(probabilities, classes, volume_shape, query.spatial_shape(), settings);
}

void check_same_grid(const imaging::Image& image, const imaging::Image& mask) {
  if (image.spatial_shape() != mask.spatial_shape())
    throw InputError(mask.source, "mask shape " + shape_string(mask.spatial_shape()) + " differs from its image's " +
                                      shape_string(image.spatial_shape()));
}

}  // namespace medport::pipelines::fewshot
