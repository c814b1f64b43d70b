// read_image on arbitrary bytes as a natural image: medport's checks (JPEG stream, PNG / TIFF /
// BMP declared sizes) run first, then OpenCV decodes (as .tif when the bytes start like a TIFF,
// for the multi-page reader; else as .png - OpenCV picks the decoder from the content).
#include <cstring>

#include "fuzz_image_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bool tiff = size >= 4 && (std::memcmp(data, "II*\0", 4) == 0 || std::memcmp(data, "MM\0*", 4) == 0);
  medport::fuzz::read_as(data, size, tiff ? "input.tif" : "input.png");
  return 0;
}
