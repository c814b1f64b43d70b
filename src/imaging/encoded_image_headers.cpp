#include "encoded_image_headers.hpp"

#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>

#include "medport/error.hpp"

namespace medport::imaging::detail {
namespace {

// How far each compression can expand its input, generously rounded up (deflate ~1032:1, LZW
// ~2730:1, PackBits/RLE 128:1). kOther bounds the codecs without a simple limit (JPEG, CCITT fax,
// LZMA, ZSTD...): no real image of this domain comes near it, and it keeps a few bytes from
// declaring gigapixels.
constexpr double kDeflate = 1100, kLzw = 2800, kRle = 130, kOther = 4096;

std::uint32_t be32(std::span<const std::byte> b, std::size_t at) {
  return (std::to_integer<std::uint32_t>(b[at]) << 24) | (std::to_integer<std::uint32_t>(b[at + 1]) << 16) |
         (std::to_integer<std::uint32_t>(b[at + 2]) << 8) | std::to_integer<std::uint32_t>(b[at + 3]);
}

std::uint32_t le32(std::span<const std::byte> b, std::size_t at) {
  return std::to_integer<std::uint32_t>(b[at]) | (std::to_integer<std::uint32_t>(b[at + 1]) << 8) |
         (std::to_integer<std::uint32_t>(b[at + 2]) << 16) | (std::to_integer<std::uint32_t>(b[at + 3]) << 24);
}

std::uint16_t le16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(b[at]) | (std::to_integer<unsigned>(b[at + 1]) << 8));
}

// libtiff reading from memory, its messages kept instead of printed.
struct TiffMemory {
  std::span<const std::byte> bytes;
  std::string name;  // libtiff puts it in its messages; ours name the file once, first
  toff_t position = 0;
  std::string error;
};

tmsize_t tiff_read(thandle_t h, void* buf, tmsize_t size) {
  auto* m = static_cast<TiffMemory*>(h);
  if (m->position >= m->bytes.size() || size <= 0) return 0;
  const auto n = std::min<std::size_t>(static_cast<std::size_t>(size), m->bytes.size() - m->position);
  std::memcpy(buf, m->bytes.data() + m->position, n);
  m->position += n;
  return static_cast<tmsize_t>(n);
}
tmsize_t tiff_write(thandle_t, void*, tmsize_t) { return 0; }
toff_t tiff_seek(thandle_t h, toff_t offset, int whence) {
  auto* m = static_cast<TiffMemory*>(h);
  const toff_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->position : m->bytes.size();
  m->position = base + offset;
  return m->position;
}
int tiff_close(thandle_t) { return 0; }
toff_t tiff_size(thandle_t h) { return static_cast<TiffMemory*>(h)->bytes.size(); }
int tiff_map(thandle_t, void**, toff_t*) { return 0; }
void tiff_unmap(thandle_t, void*, toff_t) {}
int tiff_error(TIFF*, void* data, const char* module, const char* fmt, va_list ap) {
  auto* m = static_cast<TiffMemory*>(data);
  if (m->error.empty()) {
    char text[512];
    std::vsnprintf(text, sizeof text, fmt, ap);
    std::string message = text;
    for (auto at = message.find(m->name + ": "); !m->name.empty() && at != std::string::npos; at = message.find(m->name + ": "))
      message.erase(at, m->name.size() + 2);
    m->error = std::string(module && m->name != module ? module : "libtiff") + ": " + message;
  }
  return 1;
}
int tiff_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

double tiff_expansion(std::uint16_t compression, const std::string& source) {
  switch (compression) {
    case COMPRESSION_NONE: return 1.0;
    case COMPRESSION_PACKBITS: return kRle;
    case COMPRESSION_LZW: return kLzw;
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE: return kDeflate;
    default:
      if (TIFFIsCODECConfigured(compression) != 1)
        throw InputError(source, "damaged or unsupported TIFF: compression " + std::to_string(compression) +
                                     " is not one libtiff can decode");
      return kOther;
  }
}

}  // namespace

DeclaredSize png_declared_size(std::span<const std::byte> bytes, const std::string& source) {
  // signature, IHDR length, "IHDR", width, height, bit depth, colour type
  if (bytes.size() < 26 || std::memcmp(bytes.data() + 12, "IHDR", 4) != 0)
    throw InputError(source, "damaged PNG: no IHDR chunk after the signature");
  DeclaredSize size;
  size.width = be32(bytes, 16);
  size.height = be32(bytes, 20);
  const auto depth = std::to_integer<unsigned>(bytes[24]);
  switch (std::to_integer<unsigned>(bytes[25])) {
    case 0: size.channels = 1; break;
    case 2: case 3: size.channels = 3; break;  // palette images decode to colour
    case 4: size.channels = 2; break;
    case 6: size.channels = 4; break;
    default: throw InputError(source, "damaged PNG: unknown colour type in IHDR");
  }
  size.bytes_per_value = depth / 8.0;
  size.max_expansion = kDeflate;
  return size;
}

DeclaredSize bmp_declared_size(std::span<const std::byte> bytes, const std::string& source) {
  if (bytes.size() < 26) throw InputError(source, "damaged BMP: the header is cut short");
  DeclaredSize size;
  const std::uint32_t info_size = le32(bytes, 14);
  if (info_size == 12) {  // OS/2 BITMAPCOREHEADER
    size.width = le16(bytes, 18);
    size.height = le16(bytes, 20);
    size.max_expansion = 1.0;
    size.channels = 3;
    return size;
  }
  if (bytes.size() < 34) throw InputError(source, "damaged BMP: the header is cut short");
  const auto width = static_cast<std::int32_t>(le32(bytes, 18)), height = static_cast<std::int32_t>(le32(bytes, 22));
  size.width = static_cast<std::uint64_t>(std::abs(static_cast<std::int64_t>(width)));
  size.height = static_cast<std::uint64_t>(std::abs(static_cast<std::int64_t>(height)));
  const std::uint16_t bits = le16(bytes, 28);
  const std::uint32_t compression = le32(bytes, 30);
  size.channels = bits == 32 ? 4 : 3;
  size.bytes_per_value = bits / 8.0 / static_cast<double>(size.channels);
  size.max_expansion = (compression == 0 || compression == 3) ? 1.0 : (compression == 1 || compression == 2) ? kRle : kOther;
  return size;
}

DeclaredSize tiff_declared_size(std::span<const std::byte> bytes, const std::string& source) {
  TiffMemory memory{bytes, source, 0, {}};
  std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> options(TIFFOpenOptionsAlloc(), TIFFOpenOptionsFree);
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), tiff_error, &memory);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), tiff_warning, &memory);
  std::unique_ptr<TIFF, void (*)(TIFF*)> tiff(
      TIFFClientOpenExt(source.c_str(), "rm", &memory, tiff_read, tiff_write, tiff_seek, tiff_close, tiff_size,
                        tiff_map, tiff_unmap, options.get()),
      TIFFClose);
  if (!tiff) throw InputError(source, "damaged TIFF: " + (memory.error.empty() ? "unreadable header" : memory.error));
  DeclaredSize size;
  double raw_bytes = 0;
  std::uint64_t pages = 0;
  do {
    std::uint32_t width = 0, height = 0;
    std::uint16_t samples = 1, bits = 8, compression = COMPRESSION_NONE;
    TIFFGetField(tiff.get(), TIFFTAG_IMAGEWIDTH, &width);
    TIFFGetField(tiff.get(), TIFFTAG_IMAGELENGTH, &height);
    TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_SAMPLESPERPIXEL, &samples);
    TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tiff.get(), TIFFTAG_COMPRESSION, &compression);
    if (pages == 0) {
      size.width = width;
      size.height = height;
      size.channels = samples;
      size.bytes_per_value = bits / 8.0;
      size.max_expansion = tiff_expansion(compression, source);
    } else {
      size.max_expansion = std::max(size.max_expansion, tiff_expansion(compression, source));
    }
    raw_bytes += static_cast<double>(width) * height * samples * (bits / 8.0);
    if (++pages > 100000) throw InputError(source, "damaged TIFF: more than 100000 pages");
  } while (TIFFReadDirectory(tiff.get()) == 1);
  size.pages = pages;
  // One size stands for all pages: the values of every page, expressed as pages of the first.
  const double first = static_cast<double>(size.width) * static_cast<double>(size.height) *
                       static_cast<double>(size.channels) * size.bytes_per_value;
  if (first > 0 && raw_bytes > first * static_cast<double>(pages))
    size.pages = static_cast<std::uint64_t>(raw_bytes / first) + 1;
  return size;
}

}  // namespace medport::imaging::detail
