#pragma once
// The image readers take paths (nifticlib, OpenCV's multi-page TIFF reader and the MetaImage
// data-file rules work on files), so the image fuzz targets write each input to a file in a
// private temporary folder and read it back through medport::imaging::read_image.
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_support.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"

namespace medport::fuzz {

inline const std::filesystem::path& scratch_folder() {
  static const std::filesystem::path folder = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "medport-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    return std::filesystem::path(tmpl);
  }();
  return folder;
}

// Writes the input as scratch/NAME and reads it; a successful read must be a valid image with
// finite pixels (the default policy refuses NaN/inf) and a positive finite spacing.
inline void read_as(const std::uint8_t* data, std::size_t size, const std::string& name) {
  const auto path = scratch_folder() / name;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const imaging::Image image = imaging::read_image(path);
    image.validate();
    double sum = 0;
    for (float v : image.data) {
      require(std::isfinite(v));
      sum += v;
    }
    for (double s : image.spacing) require(s > 0 && std::isfinite(s));
    require(std::isfinite(sum) || image.data.size() > 1000000);
  } catch (const InputError&) {
  } catch (const UsageError&) {
  }
}

}  // namespace medport::fuzz
