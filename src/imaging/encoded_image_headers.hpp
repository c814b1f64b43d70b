#pragma once
// The image size a PNG / JPEG / TIFF / BMP header declares, read without decoding the pixels.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace medport::imaging::detail {

struct DeclaredSize {
  std::uint64_t width = 0, height = 0, channels = 1, pages = 1;
  double bytes_per_value = 1;
  // The most the file's compression can expand (deflate ~1032:1, LZW ~2730:1, RLE 128:1, 4096
  // for codecs without a simple bound).
  double max_expansion = 4096;
};

DeclaredSize png_declared_size(std::span<const std::byte> bytes, const std::string& source);
DeclaredSize tiff_declared_size(std::span<const std::byte> bytes, const std::string& source);
DeclaredSize bmp_declared_size(std::span<const std::byte> bytes, const std::string& source);
// Reads the JPEG header, hands its size to `check_header` (which may throw), then decodes the
// whole stream with libjpeg (one row at a time) and refuses it on any libjpeg warning.
void check_jpeg_stream(std::span<const std::byte> bytes, const std::string& source,
                       const std::function<void(const DeclaredSize&)>& check_header);

}  // namespace medport::imaging::detail
