#pragma once
// Images in and out of the diffusion CLI, the EchoGAINS way: pixels scaled x / 127.5 - 1,
// grayscale replicated to every model channel (PIL convert("RGB")), masks 255 (or 1) = keep,
// samples written as ((x + 1) * 127.5).clamp(0, 255) truncated to uint8.
// Formats: 8-bit PNG/JPEG/BMP/TIFF (OpenCV; alpha dropped), binary PGM/PPM (P5/P6, maxval 255), .npz (float arrays in [-1, 1] or masks in
// [0, 1]; [H,W], [C,H,W] or [1,C,H,W]; the array named "image"/"mask" or the first one).
#include <cstdint>
#include <filesystem>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::diffusion {

// [1, channels, H, W] float32 in [-1, 1]. Throws InputError for unreadable or odd files.
Tensor load_diffusion_image(const std::filesystem::path& path, std::int64_t channels);
// [1, channels, H, W] float32 in [0, 1] (1 = keep the known pixel).
Tensor load_keep_mask(const std::filesystem::path& path, std::int64_t channels);

// 8-bit pixels of one image of a [N, C, H, W] batch in [-1, 1], interleaved HWC.
std::vector<std::uint8_t> to_uint8_pixels(const Tensor& samples, std::int64_t index);
// Writes image `index` of the batch as an 8-bit gray or RGB PNG, atomically.
void write_png(const std::filesystem::path& path, const Tensor& samples, std::int64_t index);
// Writes image `index` of the batch as PGM (1 channel) or PPM (3 channels), atomically.
void write_netpbm(const std::filesystem::path& path, const Tensor& samples, std::int64_t index);

}  // namespace medport::diffusion
