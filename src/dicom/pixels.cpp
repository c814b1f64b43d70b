#include "pixels.hpp"

#include <algorithm>
#include <cmath>

#include "medport/error.hpp"

namespace medport::dicom::detail {
namespace {

bool is_monochrome(const std::string& p) { return p == "MONOCHROME1" || p == "MONOCHROME2"; }

std::size_t frame_bytes(const PixelFormat& f) {
  const auto pixels = static_cast<std::size_t>(f.rows) * static_cast<std::size_t>(f.columns);
  if (f.photometric == "YBR_FULL_422") return pixels * 2;  // Y Y Cb Cr per two pixels
  return pixels * static_cast<std::size_t>(f.samples) * static_cast<std::size_t>(f.bits_allocated / 8);
}

// One stored value, masked to BitsStored and sign-extended when signed.
inline std::int64_t stored_value(std::uint32_t raw, const PixelFormat& f) {
  const std::uint32_t mask = f.bits_stored >= 32 ? 0xFFFFFFFFu : ((1u << f.bits_stored) - 1u);
  std::uint32_t v = raw & mask;
  if (f.pixel_representation == 1 && f.bits_stored < 32 && (v >> (f.bits_stored - 1)) & 1u) {
    return static_cast<std::int64_t>(v) - (std::int64_t{1} << f.bits_stored);
  }
  if (f.pixel_representation == 1 && f.bits_stored == 32) return static_cast<std::int32_t>(v);
  return static_cast<std::int64_t>(v);
}

inline std::uint32_t raw_at(const std::uint8_t* p, long bytes) {
  switch (bytes) {
    case 1: return p[0];
    case 2: return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8);
    default:
      return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
             (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
  }
}

// ITU-R BT.601 full-range YCbCr (8-bit) to RGB, as PS3.3 C.7.6.3.1.2 defines YBR_FULL.
inline void ybr_to_rgb(double y, double cb, double cr, float* r, float* g, float* b) {
  auto clamp = [](double v) { return static_cast<float>(std::clamp(v, 0.0, 255.0)); };
  *r = clamp(y + 1.402 * (cr - 128.0));
  *g = clamp(y - 0.344136 * (cb - 128.0) - 0.714136 * (cr - 128.0));
  *b = clamp(y + 1.772 * (cb - 128.0));
}

}  // namespace

std::string PixelFormat::dtype() const {
  const bool is_signed = pixel_representation == 1;
  switch (bits_allocated) {
    case 8: return is_signed ? "int8" : "uint8";
    case 16: return is_signed ? "int16" : "uint16";
    default: return is_signed ? "int32" : "uint32";
  }
}

PixelFormat read_pixel_format(DcmItem& dataset, const std::string& file) {
  PixelFormat f;
  f.rows = require_integer(dataset, DCM_Rows, file);
  f.columns = require_integer(dataset, DCM_Columns, file);
  if (f.rows < 1 || f.rows > 65535) fail(file, DCM_Rows, "must be 1..65535, found " + std::to_string(f.rows));
  if (f.columns < 1 || f.columns > 65535) fail(file, DCM_Columns, "must be 1..65535, found " + std::to_string(f.columns));
  f.samples = require_integer(dataset, DCM_SamplesPerPixel, file);
  f.bits_allocated = require_integer(dataset, DCM_BitsAllocated, file);
  f.bits_stored = require_integer(dataset, DCM_BitsStored, file);
  const long high_bit = require_integer(dataset, DCM_HighBit, file);
  f.pixel_representation = require_integer(dataset, DCM_PixelRepresentation, file);
  f.photometric = require_string(dataset, DCM_PhotometricInterpretation, file);
  f.frames = find_integer(dataset, DCM_NumberOfFrames, file).value_or(1);
  if (f.frames < 1) fail(file, DCM_NumberOfFrames, "must be at least 1, found " + std::to_string(f.frames));

  if (f.bits_allocated != 8 && f.bits_allocated != 16 && f.bits_allocated != 32)
    fail(file, DCM_BitsAllocated, "unsupported value " + std::to_string(f.bits_allocated) + " (8, 16 or 32)");
  if (f.bits_stored < 1 || f.bits_stored > f.bits_allocated)
    fail(file, DCM_BitsStored, "must be 1.." + std::to_string(f.bits_allocated) + ", found " + std::to_string(f.bits_stored));
  if (high_bit != f.bits_stored - 1)
    fail(file, DCM_HighBit, "unsupported value " + std::to_string(high_bit) + " (only BitsStored - 1)");
  if (f.pixel_representation != 0 && f.pixel_representation != 1)
    fail(file, DCM_PixelRepresentation, "must be 0 or 1, found " + std::to_string(f.pixel_representation));

  if (is_monochrome(f.photometric)) {
    if (f.samples != 1) fail(file, DCM_SamplesPerPixel, "must be 1 for " + f.photometric);
  } else if (f.photometric == "RGB" || f.photometric == "YBR_FULL" || f.photometric == "YBR_FULL_422") {
    if (f.samples != 3) fail(file, DCM_SamplesPerPixel, "must be 3 for " + f.photometric);
    if (f.bits_allocated != 8 && f.photometric != "RGB")
      fail(file, DCM_BitsAllocated, "only 8-bit " + f.photometric + " is supported");
    f.planar_configuration = find_integer(dataset, DCM_PlanarConfiguration, file).value_or(0);
    if (f.planar_configuration != 0 && f.planar_configuration != 1)
      fail(file, DCM_PlanarConfiguration, "must be 0 or 1");
  } else {
    fail(file, DCM_PhotometricInterpretation,
         "unsupported value '" + f.photometric + "' (MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, YBR_FULL_422)");
  }
  // A header can claim any size; decoders would allocate it before noticing the data is short.
  constexpr double kMaxPixelBytes = 8.0 * 1024 * 1024 * 1024;
  if (static_cast<double>(f.rows) * static_cast<double>(f.columns) * static_cast<double>(f.samples) *
          static_cast<double>(f.bits_allocated / 8) * static_cast<double>(f.frames) > kMaxPixelBytes)
    fail(file, DCM_NumberOfFrames, std::to_string(f.frames) + " frame(s) of " + std::to_string(f.rows) + "x" +
                                       std::to_string(f.columns) + " exceed the 8 GiB pixel data limit");
  if (is_monochrome(f.photometric)) {
    const auto slope = find_numbers(dataset, DCM_RescaleSlope, file);
    const auto intercept = find_numbers(dataset, DCM_RescaleIntercept, file);
    if (slope.size() > 1) fail(file, DCM_RescaleSlope, "expected one value");
    if (intercept.size() > 1) fail(file, DCM_RescaleIntercept, "expected one value");
    if (!slope.empty()) f.slope = slope[0];
    if (!intercept.empty()) f.intercept = intercept[0];
    if (f.slope == 0.0) fail(file, DCM_RescaleSlope, "is zero");
  }
  return f;
}

std::span<const std::uint8_t> native_pixels(DcmFileFormat& format, PixelFormat& pixels, const std::string& file) {
  DcmDataset* dataset = format.getDataset();
  const E_TransferSyntax xfer = dataset->getOriginalXfer();
  const DcmXfer info(xfer);
  if (info.isEncapsulated()) {
    const OFCondition status = dataset->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (status.bad() || !dataset->canWriteXfer(EXS_LittleEndianExplicit))
      throw InputError(file, std::string("TransferSyntaxUID ") + info.getXferID() + " (" + info.getXferName() +
                                 "): cannot decode (" + status.text() +
                                 "; supported: uncompressed, JPEG baseline/lossless, JPEG-LS, RLE)");
    pixels = read_pixel_format(*dataset, file);  // decoders may convert YBR to RGB
  }
  DcmElement* element = nullptr;
  if (dataset->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr)
    fail(file, DCM_PixelData, "missing");
  Uint8* bytes = nullptr;
  if (element->getUint8Array(bytes).bad() || bytes == nullptr) {
    Uint16* words = nullptr;  // OW pixel data: DCMTK holds it in host (little-endian) order
    if (element->getUint16Array(words).bad() || words == nullptr) fail(file, DCM_PixelData, "cannot be read");
    bytes = reinterpret_cast<Uint8*>(words);
  }
  const std::size_t length = element->getLength();
  const std::size_t need = frame_bytes(pixels) * static_cast<std::size_t>(pixels.frames);
  if (length < need)
    fail(file, DCM_PixelData, std::to_string(length) + " bytes for " + std::to_string(pixels.frames) + " frame(s) of " +
                                  std::to_string(pixels.rows) + "x" + std::to_string(pixels.columns) + " " +
                                  pixels.photometric + " need " + std::to_string(need));
  // DICOM pads an odd-length value with one byte to even length; anything more is data the
  // header does not describe (wrong Rows/Columns/BitsAllocated/NumberOfFrames?), as in NIfTI.
  if (length > need + need % 2)
    fail(file, DCM_PixelData, std::to_string(length) + " bytes for " + std::to_string(pixels.frames) + " frame(s) of " +
                                  std::to_string(pixels.rows) + "x" + std::to_string(pixels.columns) + " " +
                                  pixels.photometric + " that need " + std::to_string(need) + ": " +
                                  std::to_string(length - need) + " bytes more than the header describes");
  return {bytes, length};
}

void decode_frame(std::span<const std::uint8_t> pixels, const PixelFormat& f, long index, float* out,
                  const std::string& file) {
  if (index < 0 || index >= f.frames) throw InputError(file, "frame " + std::to_string(index + 1) + " out of range");
  const std::size_t bytes = frame_bytes(f);
  const std::uint8_t* src = pixels.data() + bytes * static_cast<std::size_t>(index);
  const std::size_t n = static_cast<std::size_t>(f.rows) * static_cast<std::size_t>(f.columns);
  const long step = f.bits_allocated / 8;

  if (is_monochrome(f.photometric)) {
    // MONOCHROME1 shows low values bright: invert over the stored range so that, like
    // MONOCHROME2, high means bright, then rescale.
    const bool invert = f.photometric == "MONOCHROME1";
    const std::int64_t lo = f.pixel_representation == 1 ? -(std::int64_t{1} << (f.bits_stored - 1)) : 0;
    const std::int64_t hi = f.pixel_representation == 1 ? (std::int64_t{1} << (f.bits_stored - 1)) - 1
                                                        : (std::int64_t{1} << f.bits_stored) - 1;
    for (std::size_t i = 0; i < n; ++i) {
      std::int64_t v = stored_value(raw_at(src + i * step, step), f);
      if (invert) v = lo + hi - v;
      out[i] = static_cast<float>(static_cast<double>(v) * f.slope + f.intercept);
    }
    return;
  }
  float* r = out;
  float* g = out + n;
  float* b = out + 2 * n;
  if (f.photometric == "YBR_FULL_422") {
    if (f.columns % 2 != 0) throw InputError(file, "Columns (0028,0011): YBR_FULL_422 needs an even column count");
    for (std::size_t i = 0; i < n; i += 2) {
      const std::uint8_t* p = src + i * 2;
      ybr_to_rgb(p[0], p[2], p[3], r + i, g + i, b + i);
      ybr_to_rgb(p[1], p[2], p[3], r + i + 1, g + i + 1, b + i + 1);
    }
    return;
  }
  auto sample = [&](std::size_t pixel, int channel) -> double {
    const std::size_t at = f.planar_configuration == 0 ? pixel * 3 + static_cast<std::size_t>(channel)
                                                       : static_cast<std::size_t>(channel) * n + pixel;
    return static_cast<double>(stored_value(raw_at(src + at * step, step), f));
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (f.photometric == "RGB") {
      r[i] = static_cast<float>(sample(i, 0));
      g[i] = static_cast<float>(sample(i, 1));
      b[i] = static_cast<float>(sample(i, 2));
    } else {
      ybr_to_rgb(sample(i, 0), sample(i, 1), sample(i, 2), r + i, g + i, b + i);
    }
  }
}

}  // namespace medport::dicom::detail
