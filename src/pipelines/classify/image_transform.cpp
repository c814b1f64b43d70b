#include "medport/pipelines/classify/image_transform.hpp"

#include <algorithm>
#include <cmath>

#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"

namespace medport::classify {
namespace {

// Longest side / shortest side an image may have when the resize keeps its ratio.
constexpr double kMaxAspectRatio = 64.0;

// Python's round() (half to even) of a non-negative value, as torchvision's CenterCrop uses.
std::int64_t round_half_even(double v) { return static_cast<std::int64_t>(std::nearbyint(v)); }

RgbImage crop(const RgbImage& in, std::int64_t height, std::int64_t width, CropAnchor anchor) {
  // torchvision CenterCrop; the resize leaves the image at least this large.
  const std::int64_t top = anchor == CropAnchor::Top      ? 0
                           : anchor == CropAnchor::Bottom ? in.height - height
                                                          : round_half_even(static_cast<double>(in.height - height) / 2.0);
  const std::int64_t left = round_half_even(static_cast<double>(in.width - width) / 2.0);
  if (top < 0 || left < 0) throw InputError(in.source, "image smaller than the crop after resizing");
  RgbImage out{height, width, std::vector<float>(static_cast<std::size_t>(3 * height * width)), in.eight_bit, in.source};
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t y = 0; y < height; ++y) {
      const float* src = in.data.data() + (c * in.height + top + y) * in.width + left;
      std::copy(src, src + width, out.data.begin() + (c * height + y) * width);
    }
  return out;
}

// Keeping the ratio, the shorter side goes to `shorter_target`: a 1 x 20000 strip would become
// 224 x 4.5 million (12 GB of floats) before the crop. Such a strip is no picture to classify.
void check_aspect_ratio(const RgbImage& image, std::int64_t shorter_target) {
  const std::int64_t shorter = std::min(image.height, image.width), longer = std::max(image.height, image.width);
  if (shorter < 1) throw InputError(image.source, "image has no pixels");
  const double ratio = static_cast<double>(longer) / static_cast<double>(shorter);
  if (ratio > kMaxAspectRatio) {
    const auto resized_long = static_cast<double>(shorter_target) * ratio;
    throw InputError(image.source, "image is " + std::to_string(image.width) + " x " + std::to_string(image.height) +
                                       " pixels (longer side / shorter side " + std::to_string(static_cast<std::int64_t>(ratio)) +
                                       ", more than 64): resizing its shorter side to " + std::to_string(shorter_target) +
                                       " would make it " + std::to_string(static_cast<std::int64_t>(resized_long)) + " pixels long");
  }
}

}  // namespace

RgbImage to_rgb(const imaging::Image& image) {
  if (image.spatial_dims() != 2) throw InputError(image.source, "a 2D image is needed, got " + shape_string(image.shape));
  RgbImage out;
  out.source = image.source;
  out.height = image.shape[1];
  out.width = image.shape[2];
  const std::int64_t plane = out.height * out.width;
  const std::int64_t channels = image.channels();
  if (channels != 1 && channels != 3 && channels != 4)
    throw InputError(image.source, "has " + std::to_string(channels) + " channels; gray, RGB or RGBA images are classified");
  double scale = 1.0;
  out.eight_bit = image.original_dtype == "uint8" || image.original_dtype == "bool";
  if (image.original_dtype == "uint16") scale = 255.0 / 65535.0;
  out.data.resize(static_cast<std::size_t>(3 * plane));
  for (std::int64_t c = 0; c < 3; ++c) {
    const std::int64_t from = channels == 1 ? 0 : c;
    for (std::int64_t i = 0; i < plane; ++i) {
      const float v = image.data[static_cast<std::size_t>(from * plane + i)];
      out.data[static_cast<std::size_t>(c * plane + i)] = scale == 1.0 ? v : static_cast<float>(v * scale);
    }
  }
  return out;
}

RgbImage read_rgb(const std::filesystem::path& path, const dicom::Selection& dicom) {
  imaging::ReadOptions options;
  options.npy_channels_first = true;
  options.dicom = dicom;
  return to_rgb(imaging::read_image(path, options));
}

RgbImage rgb_from_interleaved(const std::uint8_t* rgb, std::int64_t height, std::int64_t width, std::size_t row_stride,
                              std::string source) {
  RgbImage out{height, width, std::vector<float>(static_cast<std::size_t>(3 * height * width)), true, std::move(source)};
  for (std::int64_t y = 0; y < height; ++y) {
    const std::uint8_t* row = rgb + static_cast<std::size_t>(y) * row_stride;
    for (std::int64_t x = 0; x < width; ++x)
      for (std::int64_t c = 0; c < 3; ++c)
        out.data[static_cast<std::size_t>((c * height + y) * width + x)] = row[x * 3 + c];
  }
  return out;
}

Interpolation parse_interpolation(const std::string& name, const std::string& source) {
  if (name == "nearest") return Interpolation::Nearest;
  if (name == "bilinear") return Interpolation::Bilinear;
  if (name == "bicubic") return Interpolation::Bicubic;
  if (name == "box") return Interpolation::Box;
  if (name == "hamming") return Interpolation::Hamming;
  if (name == "lanczos") return Interpolation::Lanczos;
  throw InputError(source, "unknown interpolation '" + name + "' (nearest, bilinear, bicubic, box, hamming, lanczos)");
}

std::vector<float> eval_transform(const RgbImage& image, const TransformSettings& s) {
  const auto scale_h = static_cast<std::int64_t>(std::floor(static_cast<double>(s.height) / s.crop_pct));
  const auto scale_w = static_cast<std::int64_t>(std::floor(static_cast<double>(s.width) / s.crop_pct));
  if (s.mode != ResizeMode::Squash) check_aspect_ratio(image, std::min(scale_h, scale_w));
  RgbImage resized;
  if (s.mode == ResizeMode::Squash) {
    resized = resize(image, scale_h, scale_w, s.interpolation);
  } else if (scale_h == scale_w) {
    // torchvision Resize(int): the shorter side to `scale`, the longer in proportion (truncated).
    const bool portrait = image.width <= image.height;
    const std::int64_t shorter = portrait ? image.width : image.height, longer = portrait ? image.height : image.width;
    const auto new_long = static_cast<std::int64_t>(static_cast<double>(scale_h) * static_cast<double>(longer) /
                                                    static_cast<double>(shorter));
    resized = portrait ? resize(image, new_long, scale_h, s.interpolation) : resize(image, scale_h, new_long, s.interpolation);
  } else {
    // timm ResizeKeepRatio for a non-square target (timm leaves its interpolation at bilinear).
    const double ratio = std::min(static_cast<double>(image.height) / static_cast<double>(scale_h),
                                  static_cast<double>(image.width) / static_cast<double>(scale_w));
    resized = resize(image, round_half_even(static_cast<double>(image.height) / ratio),
                     round_half_even(static_cast<double>(image.width) / ratio), Interpolation::Bilinear);
  }
  return crop(resized, s.height, s.width, s.anchor).data;
}

}  // namespace medport::classify
