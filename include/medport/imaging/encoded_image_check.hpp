#pragma once
// Checks on a PNG / JPEG / TIFF / BMP file's bytes before OpenCV decodes it, for what OpenCV lets
// through: libjpeg fills a cut-short or corrupt JPEG with gray and only prints a warning, and any
// header may claim a size the file cannot hold (a decompression bomb, or a lie that makes the
// decoder reserve gigabytes). Every refusal is an InputError naming the file and the fault.
#include <cstddef>
#include <span>
#include <string>

namespace medport::imaging {

// Decoded values (width x height x channels, all pages) a natural image may have: 2^28.
inline constexpr double kMaxNaturalImageValues = 268435456.0;
// Pixels (width x height) of one page: 2^26 = 67 Mpixel (8192 x 8192), far above any
// ultrasound/echo frame or photograph medport classifies, and small enough that the float copy
// the readers make (~1 GiB for RGBA) cannot exhaust memory.
inline constexpr double kMaxNaturalImagePixels = 67108864.0;

// JPEG: decoded once by libjpeg, every warning ("Premature end of JPEG file", "Corrupt JPEG
// data") refused. PNG, JPEG, TIFF, BMP: the size in the header within kMaxNaturalImagePixels per
// page, kMaxNaturalImageValues in all, and within what the file's compression could expand to. Any other content (JPEG 2000, WebP,
// OpenEXR... which OpenCV would decode whatever the file's name) is refused.
void check_encoded_image(std::span<const std::byte> bytes, const std::string& source);

}  // namespace medport::imaging
