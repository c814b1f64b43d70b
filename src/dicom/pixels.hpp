#pragma once
// Pixel data of one DICOM instance: its format (Image Pixel module), decompression through
// DCMTK's registered codecs, and frames decoded to float with photometric conversion and the
// modality rescale.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dcmtk_support.hpp"

namespace medport::dicom::detail {

struct PixelFormat {
  long rows = 0, columns = 0, samples = 1, frames = 1;
  long bits_allocated = 0, bits_stored = 0, pixel_representation = 0, planar_configuration = 0;
  std::string photometric;
  double slope = 1.0, intercept = 0.0;  // RescaleSlope / RescaleIntercept (monochrome)
  long channels() const { return samples == 3 ? 3 : 1; }
  std::string dtype() const;            // numpy name of the stored type ("uint8", "int16", ...)
};

// Reads and checks the Image Pixel attributes (InputError naming the file and attribute).
PixelFormat read_pixel_format(DcmItem& dataset, const std::string& file);

// The native (uncompressed, little-endian) pixel bytes, decompressing with DCMTK's codecs when the
// transfer syntax is encapsulated. The format is re-read afterwards, since a decoder may change
// PhotometricInterpretation (YBR -> RGB) or PlanarConfiguration. The span lives as long as `format`.
std::span<const std::uint8_t> native_pixels(DcmFileFormat& format, PixelFormat& pixels, const std::string& file);

// Frame `index` (0-based) as (C, rows, columns) floats in `out`.
void decode_frame(std::span<const std::uint8_t> pixels, const PixelFormat& format, long index, float* out,
                  const std::string& file);

}  // namespace medport::dicom::detail
