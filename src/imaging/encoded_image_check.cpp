#include "medport/imaging/encoded_image_check.hpp"

#include <cstdint>
#include <cstring>
#include <sstream>

#include "encoded_image_headers.hpp"
#include "medport/error.hpp"

namespace medport::imaging {
namespace {

using detail::DeclaredSize;

bool starts_with(std::span<const std::byte> bytes, const char* magic, std::size_t n) {
  return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
}

std::string describe(const DeclaredSize& size) {
  std::ostringstream s;
  s << size.width << " x " << size.height;
  if (size.pages > 1) s << " x " << size.pages << " pages";
  s << " with " << size.channels << " channel(s)";
  return s.str();
}

void check_size(const DeclaredSize& size, std::size_t file_bytes, const std::string& format, const std::string& source) {
  const double pixels = static_cast<double>(size.width) * static_cast<double>(size.height);
  if (pixels > kMaxNaturalImagePixels)
    throw InputError(source, format + " header declares " + describe(size) +
                                 ": more than the 2^26 pixels (67 Mpixel) per image medport reads");
  const double values = pixels * static_cast<double>(size.channels) * static_cast<double>(size.pages);
  if (values > kMaxNaturalImageValues)
    throw InputError(source, format + " header declares " + describe(size) + ": more than the 2^28 values medport reads");
  const double raw_bytes = values * size.bytes_per_value;
  if (raw_bytes > static_cast<double>(file_bytes) * size.max_expansion + 65536.0)
    throw InputError(source, format + " header declares " + describe(size) + ", more than this " +
                                 std::to_string(file_bytes) + "-byte file can hold (truncated, or a decompression bomb)");
}

}  // namespace

void check_encoded_image(std::span<const std::byte> bytes, const std::string& source) {
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n", 8)) {
    check_size(detail::png_declared_size(bytes, source), bytes.size(), "PNG", source);
  } else if (starts_with(bytes, "\xFF\xD8\xFF", 3)) {
    // The header is checked before libjpeg decodes the rest, so a lying size costs nothing.
    detail::check_jpeg_stream(bytes, source, [&](const DeclaredSize& size) { check_size(size, bytes.size(), "JPEG", source); });
  } else if (starts_with(bytes, "II*\0", 4) || starts_with(bytes, "MM\0*", 4)) {
    check_size(detail::tiff_declared_size(bytes, source), bytes.size(), "TIFF", source);
  } else if (starts_with(bytes, "BM", 2)) {
    check_size(detail::bmp_declared_size(bytes, source), bytes.size(), "BMP", source);
  } else {
    // OpenCV would also decode JPEG 2000, WebP, OpenEXR, Radiance HDR... by their content,
    // whatever the file is called: each another decoder exposed to untrusted bytes.
    throw InputError(source, "cannot decode the image: the content is not PNG, JPEG, TIFF or BMP");
  }
}

}  // namespace medport::imaging
