#include "medport/pipelines/fewshot/model_inputs.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/imaging/resample.hpp"
#include "medport/util/file_io.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;

imaging::Image read_single_channel(const fs::path& path, const dicom::Selection& dicom) {
  imaging::ReadOptions options;
  options.to_gray = true;
  options.dicom = dicom;
  imaging::Image image = imaging::read_image(path, options);
  if (image.channels() != 1)
    throw InputError(path.string(), "has " + std::to_string(image.channels()) + " channels; IRIS takes one");
  return image;
}

std::string file_sha256(const fs::path& path) { return sha256_hex(read_file(path)); }

// Resizes one spatial array (2 or 3 axes) with skimage's order-0/1 rules (edge mode, no
// anti-aliasing, pixel centres aligned: torch's align_corners=False for linear).
std::vector<double> resize(std::vector<double> values, const Shape& shape, const Shape& new_shape, int order) {
  if (shape == new_shape) return values;
  return imaging::resize_edge(values, shape, new_shape, order);
}

// A spatial array at (H,W) or (Z,Y,X) -> (D,H,W) as the model wants it.
std::vector<double> to_volume(std::vector<double> values, const Shape& spatial, const Shape& volume_shape, int order) {
  if (spatial.size() == 3) return resize(std::move(values), spatial, volume_shape, order);
  const Shape plane{volume_shape[1], volume_shape[2]};
  auto slice = resize(std::move(values), spatial, plane, order);
  std::vector<double> out;
  out.reserve(slice.size() * static_cast<std::size_t>(volume_shape[0]));
  for (std::int64_t z = 0; z < volume_shape[0]; ++z) out.insert(out.end(), slice.begin(), slice.end());
  return out;
}

void normalize_in_place(std::vector<double>& v, const std::string& mode) {
  if (mode == "none" || v.empty()) return;
  if (mode == "minmax") {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const double low = *lo, range = *hi - *lo + 1e-8;
    for (auto& x : v) x = (x - low) / range;
    return;
  }
  double mean = 0.0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double var = 0.0;
  for (double x : v) var += (x - mean) * (x - mean);
  const double sd = std::sqrt(var / static_cast<double>(v.size()));
  const double scale = sd > 1e-8 ? 1.0 / sd : 1.0;
  for (auto& x : v) x = (x - mean) * scale;
}

Tensor volume_tensor(const std::vector<double>& values, Shape shape) {
  std::vector<float> f(values.begin(), values.end());
  return Tensor::from_f32(std::move(shape), f);
}

}  // namespace

ModelImage read_model_image(const fs::path& path, const Shape& volume_shape, const std::string& normalize,
                            const dicom::Selection& dicom) {
  ModelImage out;
  out.original = read_single_channel(path, dicom);
  for (float v : out.original.data)
    if (!std::isfinite(v)) throw InputError(path.string(), "contains NaN or infinite values");
  std::vector<double> values(out.original.data.begin(), out.original.data.end());
  values = to_volume(std::move(values), out.original.spatial_shape(), volume_shape, 1);
  normalize_in_place(values, normalize);
  out.model_input = volume_tensor(values, {1, 1, volume_shape[0], volume_shape[1], volume_shape[2]});
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

Tensor mask_channels_for_model(const LabelFile& mask, const std::vector<std::int64_t>& classes, const Shape& volume_shape) {
  std::vector<float> channels;
  for (auto c : classes) {
    const auto resized = to_volume(class_channel(mask, c), mask.original.spatial_shape(), volume_shape, 0);
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
                                          const Shape& volume_shape, const imaging::Image& query) {
  const Shape spatial = query.spatial_shape();
  const std::size_t per_model = static_cast<std::size_t>(shape_numel(volume_shape));
  const std::size_t plane = static_cast<std::size_t>(volume_shape[1] * volume_shape[2]);
  std::vector<float> out;
  for (std::int64_t k = 0; k < classes; ++k) {
    const float* p = probabilities.data() + static_cast<std::size_t>(k) * per_model;
    std::vector<double> values;
    Shape from;
    if (spatial.size() == 3) {
      values.assign(p, p + per_model);
      from = volume_shape;
    } else {  // 2D: the D slices are copies of one input slice; average what the model made of them
      values.assign(plane, 0.0);
      for (std::int64_t z = 0; z < volume_shape[0]; ++z)
        for (std::size_t i = 0; i < plane; ++i) values[i] += p[static_cast<std::size_t>(z) * plane + i];
      for (auto& v : values) v /= static_cast<double>(volume_shape[0]);
      from = {volume_shape[1], volume_shape[2]};
    }
    values = resize(std::move(values), from, spatial, 1);
    for (double v : values) out.push_back(static_cast<float>(std::clamp(v, 0.0, 1.0)));
  }
  return out;
}

void check_same_grid(const imaging::Image& image, const imaging::Image& mask) {
  if (image.spatial_shape() != mask.spatial_shape())
    throw InputError(mask.source, "mask shape " + shape_string(mask.spatial_shape()) + " differs from its image's " +
                                      shape_string(image.spatial_shape()));
}

}  // namespace medport::pipelines::fewshot
