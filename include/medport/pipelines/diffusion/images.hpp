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
// crop_size > 0: 8-bit images go through center_crop_arr(crop_size) first (see below); npz
// images are taken as they are.
Tensor load_diffusion_image(const std::filesystem::path& path, std::int64_t channels, std::int64_t crop_size = 0);

// guided-diffusion center_crop_arr on 8-bit HWC pixels: halve with a box filter while the short
// side is >= 2 * size, resize (bicubic) so the short side equals size (sides rounded half to
// even, as Python's round), then crop the centre size x size. OpenCV stands in for PIL:
// INTER_AREA for BOX, INTER_CUBIC for BICUBIC; OpenCV's cubic uses a = -0.75 and no
// antialiasing, PIL's a = -0.5 with a support widened by the downscale factor, so pixels can
// differ by a few levels whenever the bicubic step changes the size.
std::vector<std::uint8_t> center_crop_pixels(const std::vector<std::uint8_t>& hwc, std::int64_t height,
                                             std::int64_t width, std::int64_t channels, std::int64_t size);

// EchoGAINS get_repaint_mask: keep [1, C, H, W] (1 = known) of the ultrasound sector, i.e. the
// pixels that are nonzero (x > -1 in any channel) once the zero background is grown by a
// border x border square (OpenCV dilate, anchor at the centre), so the sector edge is repainted.
Tensor sector_keep_mask(const Tensor& image, int border = 2);
// [1, channels, H, W] float32 in [0, 1] (1 = keep the known pixel).
Tensor load_keep_mask(const std::filesystem::path& path, std::int64_t channels);

// 8-bit pixels of one image of a [N, C, H, W] batch in [-1, 1], interleaved HWC.
std::vector<std::uint8_t> to_uint8_pixels(const Tensor& samples, std::int64_t index);
// Writes image `index` of the batch as an 8-bit gray or RGB PNG, atomically.
void write_png(const std::filesystem::path& path, const Tensor& samples, std::int64_t index);
// Writes image `index` of the batch as PGM (1 channel) or PPM (3 channels), atomically.
void write_netpbm(const std::filesystem::path& path, const Tensor& samples, std::int64_t index);

}  // namespace medport::diffusion
