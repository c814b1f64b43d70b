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

std::string png_declaring(std::uint32_t width, std::uint32_t height) {
  std::string png("\x89PNG\r\n\x1a\n", 8), ihdr;
  be32(ihdr, width);
  be32(ihdr, height);
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit gray, deflate, no filter, no interlace
  png_chunk(png, "IHDR", ihdr);
  png_chunk(png, "IDAT", zlib_compress(std::string(1000, '\0')));
  png_chunk(png, "IEND", "");
  return png;
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
