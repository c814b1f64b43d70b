// MetaImage (.mhd header + data file, or .mha with the data after the header), written from
// the format's documented keys: NDims, DimSize, ElementSpacing, Offset, TransformMatrix,
// ElementType, ElementNumberOfChannels, ElementByteOrderMSB, CompressedData (zlib),
// HeaderSize and ElementDataFile (LOCAL or a file next to the header).
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "image_formats.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"
#include "zlib_streams.hpp"

namespace medport::imaging::detail {
namespace {

constexpr std::size_t kMaxMetaBytes = std::size_t{16} << 30;
constexpr std::size_t kMaxHeaderBytes = std::size_t{1} << 20;

using Fields = std::vector<std::pair<std::string, std::string>>;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

const std::string* find_field(const Fields& fields, std::initializer_list<const char*> keys) {
  for (const char* key : keys)
    for (const auto& [k, v] : fields)
      if (k == key) return &v;
  return nullptr;
}

bool is_true(const std::string* value) {
  if (!value) return false;
  std::string v = *value;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return v == "true" || v == "1";
}

std::vector<double> numbers(const std::string& text, const std::string& source, const std::string& key) {
  std::istringstream in(text);
  std::vector<double> out;
  std::string token;
  while (in >> token) {
    try {
      std::size_t used = 0;
      out.push_back(std::stod(token, &used));
      if (used != token.size() || !std::isfinite(out.back())) throw std::invalid_argument(token);
    } catch (const std::exception&) {
      throw InputError(source, key + " holds '" + token + "', not a finite number");
    }
  }
  return out;
}

struct ElementType {
  std::string numpy;
  std::size_t size;
};

ElementType element_type(const std::string& name, const std::string& source) {
  if (name == "MET_UCHAR") return {"uint8", 1};
  if (name == "MET_CHAR") return {"int8", 1};
  if (name == "MET_SHORT") return {"int16", 2};
  if (name == "MET_USHORT") return {"uint16", 2};
  if (name == "MET_INT" || name == "MET_LONG") return {"int32", 4};
  if (name == "MET_UINT" || name == "MET_ULONG") return {"uint32", 4};
  if (name == "MET_FLOAT") return {"float32", 4};
  if (name == "MET_DOUBLE") return {"float64", 8};
  throw InputError(source, "unknown or unsupported MetaImage ElementType '" + name + "'");
}

template <class T>
float element_at(const std::byte* p, bool swap) {
  std::byte buf[sizeof(T)];
  std::memcpy(buf, p, sizeof(T));
  if (swap) std::reverse(buf, buf + sizeof(T));
  T v;
  std::memcpy(&v, buf, sizeof(T));
  return static_cast<float>(v);
}

float decode(const std::byte* p, const std::string& type, bool swap) {
  if (type == "uint8") return element_at<std::uint8_t>(p, false);
  if (type == "int8") return element_at<std::int8_t>(p, false);
  if (type == "int16") return element_at<std::int16_t>(p, swap);
  if (type == "uint16") return element_at<std::uint16_t>(p, swap);
  if (type == "int32") return element_at<std::int32_t>(p, swap);
  if (type == "uint32") return element_at<std::uint32_t>(p, swap);
  if (type == "float32") return element_at<float>(p, swap);
  return element_at<double>(p, swap);
}

// ElementDataFile: a file in the header's own folder (or below it), never one reached through
// "..", an absolute path or a symbolic link that leads outside that folder.
std::filesystem::path confined_data_file(const std::filesystem::path& header, const std::string& name) {
  namespace fs = std::filesystem;
  const std::string source = header.string();
  if (name.empty() || name == "LIST" || name.find('%') != std::string::npos || name.find(' ') != std::string::npos)
    throw InputError(source, "unsupported ElementDataFile '" + name + "' (LOCAL or one file)");
  const fs::path relative(name);
  if (relative.is_absolute() || name.find('\\') != std::string::npos)
    throw InputError(source, "ElementDataFile '" + name + "' must be a file next to the header, not an absolute path");
  for (const auto& part : relative)
    if (part == "..") throw InputError(source, "ElementDataFile '" + name + "' must not leave the header's folder ('..')");
  const fs::path folder = header.has_parent_path() ? header.parent_path() : fs::path(".");
  const fs::path data = folder / relative;
  std::error_code ec;
  const fs::path real_folder = fs::canonical(folder, ec);
  const fs::path real_data = ec ? fs::path() : fs::canonical(data, ec);
  if (ec) throw InputError(source, "ElementDataFile '" + name + "' cannot be opened: " + ec.message());
  const auto [f, d] = std::mismatch(real_folder.begin(), real_folder.end(), real_data.begin(), real_data.end());
  if (f != real_folder.end())
    throw InputError(source, "ElementDataFile '" + name + "' is a link to " + real_data.string() +
                                 ", outside the header's folder");
  return data;
}

std::vector<std::byte> deflate_all(std::span<const std::uint8_t> in) {
  uLongf size = compressBound(static_cast<uLong>(in.size()));
  std::vector<std::byte> out(size);
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &size, in.data(), static_cast<uLong>(in.size()), 6) != Z_OK)
    throw InputError("metaimage", "zlib compression failed");
  out.resize(size);
  return out;
}

}  // namespace

Image read_metaimage(const std::filesystem::path& path) {
  const std::string source = path.string();
  const auto file = read_file(path, kMaxMetaBytes);
  Fields fields;
  std::size_t pos = 0;
  bool data_file_seen = false;
  while (pos < file.size() && !data_file_seen) {
    if (pos > kMaxHeaderBytes) throw InputError(source, "MetaImage header too long or ElementDataFile missing");
    std::size_t end = pos;
    while (end < file.size() && file[end] != std::byte{'\n'}) ++end;
    const std::string line(reinterpret_cast<const char*>(file.data() + pos), end - pos);
    pos = end + 1;
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      if (trim(line).empty()) continue;
      throw InputError(source, "malformed MetaImage header line '" + trim(line) + "'");
    }
    fields.emplace_back(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    data_file_seen = fields.back().first == "ElementDataFile";
  }
  if (!data_file_seen) throw InputError(source, "MetaImage header has no ElementDataFile");
  const auto* ndims_text = find_field(fields, {"NDims"});
  const auto* dims_text = find_field(fields, {"DimSize"});
  const auto* type_text = find_field(fields, {"ElementType"});
  if (!ndims_text || !dims_text || !type_text)
    throw InputError(source, "MetaImage header needs NDims, DimSize and ElementType");
  const auto ndims_v = numbers(*ndims_text, source, "NDims");
  if (ndims_v.size() != 1 || (ndims_v[0] != 2 && ndims_v[0] != 3))
    throw InputError(source, "MetaImage NDims must be 2 or 3, got '" + *ndims_text + "'");
  const auto nd = static_cast<std::size_t>(ndims_v[0]);
  const auto dims = numbers(*dims_text, source, "DimSize");
  if (dims.size() != nd) throw InputError(source, "DimSize has " + std::to_string(dims.size()) + " values for NDims " + std::to_string(nd));
  double voxels = 1;
  for (double d : dims) {
    if (d < 1 || d != std::floor(d) || d > 1e9) throw InputError(source, "DimSize values must be positive integers");
    voxels *= d;
  }
  double channels = 1;
  if (const auto* c = find_field(fields, {"ElementNumberOfChannels"})) {
    const auto v = numbers(*c, source, "ElementNumberOfChannels");
    if (v.size() != 1 || v[0] < 1 || v[0] != std::floor(v[0]) || v[0] > 1024)
      throw InputError(source, "invalid ElementNumberOfChannels '" + *c + "'");
    channels = v[0];
  }
  const ElementType type = element_type(*type_text, source);
  const double expected_d = voxels * channels * static_cast<double>(type.size);
  if (expected_d > static_cast<double>(kMaxMetaBytes)) throw InputError(source, "MetaImage too large");
  const auto expected = static_cast<std::size_t>(expected_d);

  std::vector<double> spacing(nd, 1.0);
  if (const auto* s = find_field(fields, {"ElementSpacing", "ElementSize"})) {
    spacing = numbers(*s, source, "ElementSpacing");
    if (spacing.size() != nd) throw InputError(source, "ElementSpacing needs " + std::to_string(nd) + " values");
    for (double v : spacing)
      if (!std::isfinite(v) || v <= 0)
        throw InputError(source, "ElementSpacing holds '" + *s + "': the voxel spacing must be finite and > 0");
  }
  Image image;
  image.geometry.format = ImageFormat::MetaImage;
  image.geometry.metaimage_fields = fields;
  if (const auto* o = find_field(fields, {"Offset", "Origin", "Position"})) image.geometry.origin = numbers(*o, source, "Offset");
  if (const auto* t = find_field(fields, {"TransformMatrix", "Rotation", "Orientation"}))
    image.geometry.direction = numbers(*t, source, "TransformMatrix");

  // Locate the element bytes.
  const std::string& data_name = fields.back().second;
  std::vector<std::byte> external;
  std::span<const std::byte> payload;
  if (data_name == "LOCAL") {
    payload = std::span<const std::byte>(file).subspan(std::min(pos, file.size()));
  } else {
    external = read_file(confined_data_file(path, data_name), kMaxMetaBytes);
    payload = external;
  }
  const bool compressed = is_true(find_field(fields, {"CompressedData"}));
  if (const auto* h = find_field(fields, {"HeaderSize"}); h && !compressed) {
    const auto v = numbers(*h, source, "HeaderSize");
    if (v.size() != 1) throw InputError(source, "invalid HeaderSize");
    if (v[0] == -1) {
      if (payload.size() < expected) throw InputError(source, "truncated MetaImage data");
      payload = payload.subspan(payload.size() - expected);
    } else if (v[0] >= 0 && static_cast<std::size_t>(v[0]) <= payload.size()) {
      payload = payload.subspan(static_cast<std::size_t>(v[0]));
    } else {
      throw InputError(source, "invalid HeaderSize '" + *h + "'");
    }
  }
  std::vector<std::byte> inflated;
  if (compressed) {
    if (exceeds_deflate_ratio(expected, payload.size()))
      throw InputError(source, "DimSize claims more data than the compressed payload can hold");
    inflated = inflate_exact(payload, expected, Wrapper::Zlib, source, "compressed MetaImage data");
    payload = inflated;
  } else if (payload.size() != expected) {
    throw InputError(data_name == "LOCAL" ? source : (path.parent_path() / data_name).string(),
                     std::string(payload.size() < expected ? "truncated MetaImage data: " : "MetaImage data too long: ") +
                         std::to_string(payload.size()) + " bytes where DimSize and ElementType describe " +
                         std::to_string(expected));
  }
  const bool swap = is_true(find_field(fields, {"ElementByteOrderMSB", "BinaryDataByteOrderMSB"}));

  const auto nc = static_cast<std::int64_t>(channels);
  const auto nvox = static_cast<std::int64_t>(voxels);
  image.original_dtype = type.numpy;
  image.shape = Shape{nc};
  for (std::size_t a = nd; a-- > 0;) image.shape.push_back(static_cast<std::int64_t>(dims[a]));
  image.spacing.assign(spacing.rbegin(), spacing.rend());
  image.data.resize(static_cast<std::size_t>(nc * nvox));
  for (std::int64_t v = 0; v < nvox; ++v)
    for (std::int64_t c = 0; c < nc; ++c)
      image.data[static_cast<std::size_t>(c * nvox + v)] =
          decode(payload.data() + static_cast<std::size_t>(v * nc + c) * type.size, type.numpy, swap);
  return image;
}

void write_metaimage_labels(const std::filesystem::path& path, const LabelImage& labels, const Image& reference) {
  const auto nd = labels.shape.size();
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool local = ext == ".mha";
  std::ostringstream dims, spacing;
  for (std::size_t a = nd; a-- > 0;) {
    dims << labels.shape[a] << (a ? " " : "");
    spacing << labels.spacing_at(a) << (a ? " " : "");
  }
  Fields fields;
  if (reference.geometry.format == ImageFormat::MetaImage && !reference.geometry.metaimage_fields.empty()) {
    for (const auto& f : reference.geometry.metaimage_fields) {
      static const char* dropped[] = {"ElementType", "ElementNumberOfChannels", "ElementByteOrderMSB",
                                      "BinaryDataByteOrderMSB", "CompressedData", "CompressedDataSize",
                                      "HeaderSize", "ElementDataFile", "DimSize", "ElementMin", "ElementMax"};
      if (std::none_of(std::begin(dropped), std::end(dropped), [&](const char* d) { return f.first == d; }))
        fields.push_back(f);
    }
  } else {
    fields = {{"ObjectType", "Image"}, {"NDims", std::to_string(nd)}, {"BinaryData", "True"},
              {"ElementSpacing", spacing.str()}};
  }
  std::vector<std::byte> body;
  const bool compress = local;
  if (compress) body = deflate_all(labels.labels);
  else body.assign(reinterpret_cast<const std::byte*>(labels.labels.data()),
                   reinterpret_cast<const std::byte*>(labels.labels.data()) + labels.labels.size());
  fields.emplace_back("BinaryDataByteOrderMSB", "False");
  fields.emplace_back("CompressedData", compress ? "True" : "False");
  if (compress) fields.emplace_back("CompressedDataSize", std::to_string(body.size()));
  fields.emplace_back("DimSize", dims.str());
  fields.emplace_back("ElementType", "MET_UCHAR");
  const std::string raw_name = path.stem().string() + ".raw";
  fields.emplace_back("ElementDataFile", local ? "LOCAL" : raw_name);
  std::string header;
  for (const auto& [k, v] : fields) header += k + " = " + v + "\n";
  if (local) {
    std::vector<std::byte> all(header.size() + body.size());
    std::memcpy(all.data(), header.data(), header.size());
    std::copy(body.begin(), body.end(), all.begin() + static_cast<std::ptrdiff_t>(header.size()));
    write_file_atomic(path, all);
  } else {
    write_file_atomic(path.parent_path() / raw_name, body);
    write_file_atomic(path, header);
  }
}

}  // namespace medport::imaging::detail
