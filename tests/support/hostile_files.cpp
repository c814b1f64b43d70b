#include "hostile_files.hpp"

#include <nifti1_io.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <stdexcept>

namespace medport::testing {
namespace {

template <class T>
void append(std::string& out, T value, bool big_endian) {
  char raw[sizeof(T)];
  std::memcpy(raw, &value, sizeof(T));
  if (big_endian) std::reverse(raw, raw + sizeof(T));
  out.append(raw, sizeof(T));
}

int datatype_bytes(int datatype) {
  switch (datatype) {
    case DT_UINT8: case DT_INT8: return 1;
    case DT_INT16: case DT_UINT16: return 2;
    case DT_INT32: case DT_UINT32: case DT_FLOAT32: return 4;
    case DT_INT64: case DT_UINT64: case DT_FLOAT64: return 8;
    default: return 1;
  }
}

void append_value(std::string& out, int datatype, double v, bool be) {
  switch (datatype) {
    case DT_UINT8: append(out, static_cast<std::uint8_t>(v), be); break;
    case DT_INT8: append(out, static_cast<std::int8_t>(v), be); break;
    case DT_INT16: append(out, static_cast<std::int16_t>(v), be); break;
    case DT_UINT16: append(out, static_cast<std::uint16_t>(v), be); break;
    case DT_INT32: append(out, static_cast<std::int32_t>(v), be); break;
    case DT_UINT32: append(out, static_cast<std::uint32_t>(v), be); break;
    case DT_INT64: append(out, static_cast<std::int64_t>(v), be); break;
    case DT_UINT64: append(out, static_cast<std::uint64_t>(v), be); break;
    case DT_FLOAT64: append(out, v, be); break;
    default: append(out, static_cast<float>(v), be); break;
  }
}

std::string encode(const cv::Mat& image, const std::string& ending) {
  std::vector<std::uint8_t> out;
  if (!cv::imencode(ending, image, out)) throw std::runtime_error("OpenCV cannot encode " + ending);
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

cv::Mat ramp(int rows, int cols, int depth_bits) {
  cv::Mat m(rows, cols, depth_bits == 16 ? CV_16U : CV_8U);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) {
      const int v = (y * 7 + x * 3) % 256;
      if (depth_bits == 16) m.at<std::uint16_t>(y, x) = static_cast<std::uint16_t>(v * 257);
      else m.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(v);
    }
  return m;
}

void be32(std::string& out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void png_chunk(std::string& out, const char* type, const std::string& data) {
  be32(out, static_cast<std::uint32_t>(data.size()));
  const std::string typed = std::string(type, 4) + data;
  out += typed;
  be32(out, static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(typed.data()), static_cast<uInt>(typed.size()))));
}

std::string deflate_with(const std::string& bytes, int window_bits) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate");
  return out;
}

}  // namespace

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string gzip(const std::string& bytes) { return deflate_with(bytes, 15 + 16); }
std::string zlib_compress(const std::string& bytes) { return deflate_with(bytes, 15); }

std::string nifti_bytes(const NiftiSpec& spec) {
  nifti_1_header h{};
  h.sizeof_hdr = 348;
  h.dim[0] = static_cast<short>(spec.dims.size());
  for (int d = 1; d < 8; ++d) h.dim[d] = 1;
  std::size_t count = 1;
  for (std::size_t i = 0; i < spec.dims.size(); ++i) {
    h.dim[i + 1] = static_cast<short>(spec.dims[i]);
    count *= static_cast<std::size_t>(std::max(spec.dims[i], 0));
  }
  h.datatype = static_cast<short>(spec.datatype);
  h.bitpix = static_cast<short>(spec.bitpix != 0 ? spec.bitpix : 8 * datatype_bytes(spec.datatype));
  h.pixdim[0] = 1.0F;
  for (int d = 1; d < 8; ++d) h.pixdim[d] = 1.0F;
  for (std::size_t i = 0; i < spec.pixdim.size() && i < 7; ++i) h.pixdim[i + 1] = spec.pixdim[i];
  h.vox_offset = spec.vox_offset;
  h.scl_slope = spec.scl_slope;
  h.scl_inter = spec.scl_inter;
  h.xyzt_units = NIFTI_UNITS_MM;
  h.sform_code = static_cast<short>(spec.sform_code);
  h.srow_x[0] = spec.pixdim.empty() ? 1.0F : -spec.pixdim[0];
  h.srow_y[1] = spec.pixdim.size() < 2 ? 1.0F : -spec.pixdim[1];
  h.srow_z[2] = spec.pixdim.size() < 3 ? 1.0F : spec.pixdim[2];
  h.srow_x[3] = 12.5F;
  std::memcpy(h.magic, spec.magic.data(), std::min<std::size_t>(4, spec.magic.size()));
  if (spec.big_endian) swap_nifti_header(&h, 1);
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  if (spec.sizeof_hdr != 348) {
    std::int32_t size = spec.sizeof_hdr;
    std::memcpy(out.data(), &size, 4);
  }
  out.append(4, '\0');  // no extensions
  if (spec.header_only) return out;
  if (spec.vox_offset > 352.0F && spec.vox_offset < 1e6F) out.resize(static_cast<std::size_t>(spec.vox_offset), '\0');
  for (std::size_t i = 0; i < count; ++i)
    append_value(out, spec.datatype, spec.values.empty() ? static_cast<double>(i) : spec.values[i % spec.values.size()],
                 spec.big_endian);
  return out;
}

std::string metaimage_header(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) out += k + " = " + v + "\n";
  return out;
}

std::string png_bytes(int rows, int cols, int depth_bits) { return encode(ramp(rows, cols, depth_bits), ".png"); }
std::string jpeg_bytes(int rows, int cols) { return encode(ramp(rows, cols, 8), ".jpg"); }
std::string tiff_bytes(int rows, int cols, int depth_bits) { return encode(ramp(rows, cols, depth_bits), ".tif"); }

namespace {

// The signature and the IHDR of an 8-bit gray PNG (deflate, no filter, no interlace).
std::string png_header(std::uint32_t width, std::uint32_t height) {
  std::string png("\x89PNG\r\n\x1a\n", 8), ihdr;
  be32(ihdr, width);
  be32(ihdr, height);
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);
  png_chunk(png, "IHDR", ihdr);
  return png;
}

}  // namespace

std::string png_declaring(std::uint32_t width, std::uint32_t height) {
  std::string png = png_header(width, height);
  png_chunk(png, "IDAT", zlib_compress(std::string(1000, '\0')));
  png_chunk(png, "IEND", "");
  return png;
}

std::string png_black(std::uint32_t width, std::uint32_t height) {
  std::string png = png_header(width, height);
  // Every row: filter byte 0 and `width` zeros, deflated row by row (never all in memory).
  z_stream z{};
  if (deflateInit(&z, Z_BEST_COMPRESSION) != Z_OK) throw std::runtime_error("deflateInit failed");
  const std::string row(std::size_t{width} + 1, '\0');
  std::string idat;
  char out[65536];
  for (std::uint32_t y = 0; y <= height; ++y) {
    const bool last = y == height;
    z.next_in = last ? nullptr : reinterpret_cast<Bytef*>(const_cast<char*>(row.data()));
    z.avail_in = last ? 0 : static_cast<uInt>(row.size());
    int status = Z_OK;
    do {
      z.next_out = reinterpret_cast<Bytef*>(out);
      z.avail_out = sizeof out;
      status = deflate(&z, last ? Z_FINISH : Z_NO_FLUSH);
      idat.append(out, sizeof out - z.avail_out);
    } while (z.avail_out == 0 || (last && status != Z_STREAM_END));
  }
  deflateEnd(&z);
  png_chunk(png, "IDAT", idat);
  png_chunk(png, "IEND", "");
  return png;
}

namespace {

void le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

std::string raw_deflate(const std::string& bytes) { return deflate_with(bytes, -15); }

// A raw deflate stream of `prefix` and then `zeros` zero bytes, with its CRC-32, made in chunks.
std::string deflate_prefix_and_zeros(const std::string& prefix, std::uint64_t zeros, std::uint32_t& crc) {
  z_stream zs{};
  if (deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  const std::string chunk(std::size_t{1} << 20, '\0');
  std::string out, buffer(1 << 16, '\0');
  crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(prefix.data()), static_cast<uInt>(prefix.size())));
  auto feed = [&](const char* data, std::size_t n, bool last) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    zs.avail_in = static_cast<uInt>(n);
    int rc = Z_OK;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buffer.data());
      zs.avail_out = static_cast<uInt>(buffer.size());
      rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      out.append(buffer.data(), buffer.size() - zs.avail_out);
    } while (zs.avail_out == 0 || (last && rc != Z_STREAM_END));
  };
  feed(prefix.data(), prefix.size(), zeros == 0);
  for (std::uint64_t left = zeros; left > 0;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
    crc = static_cast<std::uint32_t>(crc32(crc, reinterpret_cast<const Bytef*>(chunk.data()), static_cast<uInt>(n)));
    left -= n;
    feed(chunk.data(), n, left == 0);
  }
  deflateEnd(&zs);
  return out;
}

}  // namespace

std::string zip_archive(const std::vector<ZipEntry>& entries) {
  std::string out, central;
  for (const auto& e : entries) {
    std::uint32_t crc = 0;
    const std::string body = e.zeros_after > 0 ? deflate_prefix_and_zeros(e.data, e.zeros_after, crc)
                             : e.deflate       ? raw_deflate(e.data)
                                               : e.data;
    if (e.zeros_after == 0)
      crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(e.data.data()), static_cast<uInt>(e.data.size())));
    const bool deflated = e.deflate || e.zeros_after > 0;
    const std::uint64_t inflated = e.data.size() + e.zeros_after;
    const auto offset = static_cast<std::uint32_t>(out.size());
    auto header = [&](std::string& h, bool is_central) {
      le(h, is_central ? 0x02014b50 : 0x04034b50, 4);
      if (is_central) le(h, 20, 2);       // version made by
      le(h, 20, 2);                       // version needed
      le(h, 0, 2);                        // flags
      le(h, deflated ? 8 : 0, 2);         // method
      le(h, 0, 4);                        // time, date
      le(h, crc, 4);
      le(h, body.size(), 4);
      le(h, inflated, 4);
      le(h, e.name.size(), 2);
      le(h, 0, 2);                        // extra
      if (is_central) {
        le(h, 0, 2);                      // comment
        le(h, 0, 2);                      // disk
        le(h, 0, 2);                      // internal attributes
        le(h, 0, 4);                      // external attributes
        le(h, offset, 4);
      }
      h += e.name;
    };
    header(out, false);
    out += body;
    header(central, true);
  }
  const auto central_offset = out.size();
  out += central;
  le(out, 0x06054b50, 4);
  le(out, 0, 4);
  le(out, entries.size(), 2);
  le(out, entries.size(), 2);
  le(out, central.size(), 4);
  le(out, central_offset, 4);
  le(out, 0, 2);
  return out;
}

std::string npy_raw(const std::string& dict, const std::string& data) {
  std::string header = dict;
  const std::size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);  // the literal's NUL is the minor version
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

std::string torch_zip_checkpoint(const std::string& pickle, const std::string& storage) {
  return zip_archive({{"archive/data.pkl", pickle}, {"archive/data/0", storage}, {"archive/version", "3\n"}});
}

std::string pickle_one_tensor_referenced(std::size_t n, std::size_t elements) {
  auto unicode = [](const std::string& t) {
    std::string s = "X";
    le(s, t.size(), 4);
    return s + t;
  };
  auto binint = [](std::uint32_t v) {
    std::string s = "J";
    le(s, v, 4);
    return s;
  };
  std::string p = "\x80\x02}(";  // PROTO 2, EMPTY_DICT, MARK
  p += unicode("t0");
  p += "ctorch._utils\n_rebuild_tensor_v2\n(";                          // GLOBAL, MARK
  p += "(" + unicode("storage") + "ctorch\nFloatStorage\n" + unicode("0") + unicode("cpu") + binint(static_cast<std::uint32_t>(elements)) +
       "tQ";                                                              // persistent id tuple, BINPERSID
  p += std::string("K\x00", 2);                                           // storage offset 0
  p += binint(static_cast<std::uint32_t>(elements)) + "\x85";              // size (n,)
  p += "K\x01\x85";                                                       // stride (1,)
  p += "\x89";                                                             // requires_grad False
  p += "ccollections\nOrderedDict\n)R";                                    // backward hooks
  p += "tR";                                                              // TUPLE, REDUCE
  p += "q\x01";                                                           // BINPUT 1
  for (std::size_t i = 1; i < n; ++i) p += unicode("t" + std::to_string(i)) + "h\x01";  // key, BINGET 1
  p += "u.";                                                              // SETITEMS, STOP
  return p;
}

std::string tiff_declaring(std::uint32_t width, std::uint32_t height, std::uint16_t compression) {
  struct Entry {
    std::uint16_t tag, type;
    std::uint32_t value;
  };
  const std::uint32_t data_offset = 8;
  const std::vector<Entry> entries = {
      {256, 4, width}, {257, 4, height}, {258, 3, 8}, {259, 3, compression}, {262, 3, 1},
      {273, 4, data_offset}, {277, 3, 1}, {278, 4, height}, {279, 4, 64},
  };
  std::string out = "II*";
  out += '\0';
  le(out, data_offset + 64, 4);  // the directory follows the strip
  out += std::string(64, '\0');
  le(out, entries.size(), 2);
  for (const auto& e : entries) {
    le(out, e.tag, 2);
    le(out, e.type, 2);
    le(out, 1, 4);
    le(out, e.value, 4);
  }
  le(out, 0, 4);  // no next directory
  return out;
}

std::string flip_byte(std::string bytes, double fraction) {
  if (bytes.empty()) return bytes;
  const auto at = std::min(bytes.size() - 1, static_cast<std::size_t>(static_cast<double>(bytes.size()) * fraction));
  bytes[at] = static_cast<char>(bytes[at] ^ 0x5A);
  return bytes;
}

std::string truncate_to(std::string bytes, double fraction) {
  bytes.resize(static_cast<std::size_t>(static_cast<double>(bytes.size()) * fraction));
  return bytes;
}

}  // namespace medport::testing
