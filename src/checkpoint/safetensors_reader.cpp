#include <algorithm>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "checkpoint/safetensors_dtype.hpp"
#include "medport/checkpoint/safetensors.hpp"
#include "medport/error.hpp"

namespace medport::ckpt {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxHeaderLength = 100'000'000;  // the reference's limit
constexpr int kMaxJsonDepth = 3;                         // {name: {"shape": [dim]}}
constexpr std::size_t kMaxDims = 64;

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin;
  std::uint64_t end;
};

std::uint64_t load_u64_le(std::span<const std::byte> bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) value |= static_cast<std::uint64_t>(bytes[i]) << (8 * i);
  return value;
}

json parse_header_json(std::string_view text, const std::string& source) {
  std::unordered_set<std::string> names;
  const json::parser_callback_t guard = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxJsonDepth) throw InputError(source, "safetensors header is nested deeper than its format allows");
    if (event == json::parse_event_t::key && depth == 1 && !names.insert(parsed.get<std::string>()).second)
      throw InputError(source, "safetensors header names '" + parsed.get<std::string>() + "' twice");
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), guard);
  } catch (const json::exception& e) {
    throw InputError(source, std::string("safetensors header is not valid JSON: ") + e.what());
  }
}

std::uint64_t unsigned_value(const json& value, const std::string& what, const std::string& source) {
  if (!value.is_number_unsigned()) throw InputError(source, what + " must be a non-negative integer");
  return value.get<std::uint64_t>();
}

Entry parse_entry(const std::string& name, const json& info, const std::string& source) {
  const std::string where = "tensor '" + name + "'";
  if (!info.is_object()) throw InputError(source, where + ": expected an object with dtype, shape and data_offsets");
  const auto dtype_it = info.find("dtype");
  const auto shape_it = info.find("shape");
  const auto offsets_it = info.find("data_offsets");
  if (dtype_it == info.end() || shape_it == info.end() || offsets_it == info.end())
    throw InputError(source, where + ": needs dtype, shape and data_offsets");
  if (!dtype_it->is_string()) throw InputError(source, where + ": dtype must be a string");
  const auto dtype = safetensors::dtype_from_safetensors_name(dtype_it->get_ref<const std::string&>());
  if (!dtype)
    throw InputError(source, where + ": unsupported dtype '" + dtype_it->get<std::string>() +
                                 "' (supported: F32 F64 F16 BF16 I64 I32 I16 I8 U16 U8 BOOL)");
  if (!shape_it->is_array() || shape_it->size() > kMaxDims)
    throw InputError(source, where + ": shape must be an array of at most " + std::to_string(kMaxDims) + " dimensions");
  Entry entry{name, *dtype, {}, 0, 0};
  for (const auto& dim : *shape_it) {
    const std::uint64_t d = unsigned_value(dim, where + ": each shape dimension", source);
    if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw InputError(source, where + ": shape dimension " + std::to_string(d) + " is too large");
    entry.shape.push_back(static_cast<std::int64_t>(d));
  }
  if (!offsets_it->is_array() || offsets_it->size() != 2)
    throw InputError(source, where + ": data_offsets must be [begin, end]");
  entry.begin = unsigned_value((*offsets_it)[0], where + ": data_offsets", source);
  entry.end = unsigned_value((*offsets_it)[1], where + ": data_offsets", source);
  return entry;
}

// Bytes the shape needs; also refuses shapes whose strides would overflow even when a zero
// dimension leaves them empty.
std::uint64_t byte_size(const Entry& e, const std::string& source) {
  std::int64_t span = static_cast<std::int64_t>(dtype_size(e.dtype));
  for (const auto d : e.shape) {
    const std::int64_t extent = std::max<std::int64_t>(d, 1);
    if (span > std::numeric_limits<std::int64_t>::max() / extent)
      throw InputError(source, "tensor '" + e.name + "': shape " + shape_string(e.shape) + " is too large");
    span *= extent;
  }
  return static_cast<std::uint64_t>(shape_numel(e.shape)) * dtype_size(e.dtype);
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& source) {
  if (!value.is_object()) throw InputError(source, "__metadata__ must be an object of strings");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string()) throw InputError(source, "__metadata__ value '" + key + "' is not a string");
    metadata.emplace(key, v.get<std::string>());
  }
  return metadata;
}

// A tensor's bytes where they lie: a view, unless they are misaligned for their element type or
// are bools that are not all 0/1 (NumPy and torch read any non-zero byte as True); those are
// copied (and normalised) on first use.
std::shared_ptr<const Storage> tensor_storage(const std::shared_ptr<const FileBytes>& file, std::uint64_t offset,
                                              std::uint64_t nbytes, DType dtype) {
  const auto address = reinterpret_cast<std::uintptr_t>(file->bytes().data()) + offset;
  if (dtype != DType::Bool && address % dtype_size(dtype) == 0)
    return std::make_shared<const Storage>(dtype, file->view(offset, nbytes));
  return std::make_shared<const Storage>(dtype, static_cast<std::size_t>(nbytes), [file, offset, nbytes, dtype] {
    ByteView in_file = file->view(offset, nbytes);
    const bool plain_bools =
        std::all_of(in_file.bytes.begin(), in_file.bytes.end(), [](std::byte b) { return b <= std::byte{1}; });
    if (dtype == DType::Bool && plain_bools) return in_file;
    auto owned = std::make_shared<std::vector<std::byte>>(in_file.bytes.begin(), in_file.bytes.end());
    if (dtype == DType::Bool)
      for (auto& b : *owned) b = b != std::byte{0} ? std::byte{1} : std::byte{0};
    const std::span<const std::byte> bytes(*owned);
    return ByteView{bytes, std::move(owned), false};
  });
}

}  // namespace

SafetensorsFile read_safetensors(std::shared_ptr<const FileBytes> file) {
  const std::span<const std::byte> bytes = file->bytes();
  const std::string& source = file->source();
  if (bytes.size() < 8)
    throw InputError(source, "too short for a safetensors file (" + std::to_string(bytes.size()) + " bytes)");
  const std::uint64_t header_length = load_u64_le(bytes);
  if (header_length > kMaxHeaderLength)
    throw InputError(source, "safetensors header length " + std::to_string(header_length) + " exceeds the 100 MB limit");
  if (header_length > bytes.size() - 8)
    throw InputError(source, "safetensors header claims " + std::to_string(header_length) + " bytes but only " +
                                 std::to_string(bytes.size() - 8) + " follow (truncated file?)");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, header_length);
  if (text.empty() || text.front() != '{') throw InputError(source, "safetensors header does not start with '{'");
  const json header = parse_header_json(text, source);
  if (!header.is_object()) throw InputError(source, "safetensors header is not a JSON object");

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__")
      out.metadata = parse_metadata(info, source);
    else
      entries.push_back(parse_entry(name, info, source));
  }

  // Tensors must tile the data buffer exactly, in offset order.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const std::span<const std::byte> data = bytes.subspan(8 + header_length);
  std::uint64_t expected_begin = 0;
  for (const auto& e : entries) {
    if (e.begin != expected_begin || e.end < e.begin)
      throw InputError(source, "tensor '" + e.name + "': data_offsets [" + std::to_string(e.begin) + ", " +
                                   std::to_string(e.end) + "] overlap or leave a gap (expected to start at " +
                                   std::to_string(expected_begin) + ")");
    const std::uint64_t nbytes = byte_size(e, source);
    if (e.end - e.begin != nbytes)
      throw InputError(source, "tensor '" + e.name + "': shape " + shape_string(e.shape) + " of " + std::string(dtype_name(e.dtype)) +
                                   " needs " + std::to_string(nbytes) + " bytes but data_offsets span " +
                                   std::to_string(e.end - e.begin));
    if (e.end > data.size())
      throw InputError(source, "tensor '" + e.name + "': data_offsets end at " + std::to_string(e.end) +
                                   " past the " + std::to_string(data.size()) + " data bytes (truncated file?)");
    expected_begin = e.end;
  }
  if (expected_begin != data.size())
    throw InputError(source, "safetensors tensors cover " + std::to_string(expected_begin) + " of the " +
                                 std::to_string(data.size()) + " data bytes");

  const std::uint64_t data_start = 8 + header_length;
  for (auto& e : entries) {
    auto storage = tensor_storage(file, data_start + e.begin, e.end - e.begin, e.dtype);
    Shape strides = contiguous_strides(e.shape);
    out.tensors.emplace_back(std::move(e.name), Tensor(std::move(storage), 0, std::move(e.shape), std::move(strides)));
  }
  return out;
}

SafetensorsFile read_safetensors(std::span<const std::byte> bytes, const std::string& source) {
  auto copy = std::make_shared<const std::vector<std::byte>>(bytes.begin(), bytes.end());
  return read_safetensors(FileBytes::in_memory(std::move(copy), source));
}

SafetensorsFile read_safetensors_file(const std::filesystem::path& path) { return read_safetensors(FileBytes::map(path)); }

}  // namespace medport::ckpt
