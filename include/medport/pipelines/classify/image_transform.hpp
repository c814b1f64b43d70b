#pragma once
// timm's evaluation transform (timm.data.transforms_imagenet_eval on a PIL image) without Python:
// resize the shorter side to floor(size / crop_pct) with the model's interpolation, then take the
// centre size x size crop ("squash": resize both sides to floor(size / crop_pct), then crop).
// Resampling is PIL's (Image.resize: separable, antialiased filters; 8-bit images in PIL's
// fixed-point arithmetic with rounding between the passes, so uint8 inputs give PIL's bytes).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medport/imaging/image.hpp"

namespace medport::classify {

// RGB planes (3, height, width), values in 0..255.
struct RgbImage {
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::vector<float> data;
  bool eight_bit = true;  // whole numbers 0..255 (PIL's "RGB" mode); false: float values ("F" mode)
  std::string source;
};

// Gray -> R = G = B, RGBA -> RGB (alpha dropped, as PIL's convert("RGB")), 16-bit -> scaled to
// 0..255. InputError naming the source for other channel counts or 3D images.
RgbImage to_rgb(const imaging::Image& image);
// PNG/JPEG/BMP/TIFF through the imaging readers; .npy as (H, W) gray or (3, H, W) RGB in 0..255.
RgbImage read_rgb(const std::filesystem::path& path);
// From interleaved 8-bit RGB rows (a decoded video frame after BGR -> RGB).
RgbImage rgb_from_interleaved(const std::uint8_t* rgb, std::int64_t height, std::int64_t width, std::size_t row_stride,
                              std::string source);

enum class Interpolation { Nearest, Bilinear, Bicubic, Box, Hamming, Lanczos };
// timm/PIL names: "nearest", "bilinear", "bicubic", "box", "hamming", "lanczos"; InputError otherwise.
Interpolation parse_interpolation(const std::string& name, const std::string& source);

// PIL Image.resize(size, filter) of every plane.
RgbImage resize(const RgbImage& image, std::int64_t height, std::int64_t width, Interpolation filter);

enum class ResizeMode { Crop, Squash };    // timm crop_mode "center" | "squash"
enum class CropAnchor { Center, Top, Bottom };

struct TransformSettings {
  std::int64_t height = 224;
  std::int64_t width = 224;
  Interpolation interpolation = Interpolation::Bicubic;
  double crop_pct = 0.875;
  ResizeMode mode = ResizeMode::Crop;
  CropAnchor anchor = CropAnchor::Center;  // vertical position of the crop (video: UI bars)
};

// The transformed image, (3, height, width) float32 in 0..255 (the graph normalizes).
std::vector<float> eval_transform(const RgbImage& image, const TransformSettings& settings);

}  // namespace medport::classify
