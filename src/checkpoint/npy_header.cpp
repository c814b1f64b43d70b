#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "checkpoint/npy_format.hpp"
#include "medport/error.hpp"

namespace medport::ckpt::npy {
namespace {

constexpr unsigned char kMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kMagicSize = sizeof(kMagic);
constexpr std::size_t kAlign = 64;                   // NumPy aligns the data to 64 bytes
constexpr std::size_t kMaxHeaderLength = 1u << 20;   // real headers are a few hundred bytes
constexpr std::size_t kMaxDims = 64;                 // NumPy's own limit
constexpr std::size_t kGrowthDigits = 21;            // NumPy >= 1.23 leaves room to grow shape[0]

struct Descr {
  DType dtype;
  bool big_endian;
};

struct DescrEntry {
  std::string_view kind;  // descr without the byte-order character
  DType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"f4", DType::F32}, {"f8", DType::F64}, {"f2", DType::F16}, {"i8", DType::I64}, {"i4", DType::I32},
    {"i2", DType::I16}, {"i1", DType::I8},  {"u1", DType::U8},  {"u2", DType::U16},  {"b1", DType::Bool},
};

std::optional<Descr> decode_descr(std::string_view descr) {
  if (descr.size() != 3) return std::nullopt;
  const char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') return std::nullopt;
  for (const auto& e : kDescrs) {
    if (e.kind != descr.substr(1)) continue;
    // '|' (not applicable) only makes sense for single-byte items.
    if (order == '|' && dtype_size(e.dtype) != 1) return std::nullopt;
    return Descr{e.dtype, order == '>' && dtype_size(e.dtype) > 1};
  }
  return std::nullopt;
}

// A strict reader for the one dict literal NumPy writes:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Strings have no escapes, numbers are non-negative decimal integers, nothing else is accepted.
class DictParser {
 public:
  DictParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  Header parse() {
    Header header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_space();
    expect('{');
    skip_space();
    while (!peek('}')) {
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        once(seen_descr, key);
        parse_descr(header);
      } else if (key == "fortran_order") {
        once(seen_order, key);
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        once(seen_shape, key);
        header.shape = parse_shape();
      } else {
        fail("unexpected key '" + key + "' (only 'descr', 'fortran_order' and 'shape' are allowed)");
      }
      skip_space();
      if (!consume(',')) break;
      skip_space();
    }
    expect('}');
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
    if (!seen_descr) fail("the key 'descr' is missing");
    if (!seen_order) fail("the key 'fortran_order' is missing");
    if (!seen_shape) fail("the key 'shape' is missing");
    return header;
  }

 private:
  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(source_, "malformed .npy header (at character " + std::to_string(pos_) + "): " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool consume(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  void once(bool& seen, const std::string& key) {
    if (seen) fail("the key '" + key + "' appears twice");
    seen = true;
  }

  std::string parse_string() {
    if (!peek('\'') && !peek('"')) fail("expected a quoted string");
    const char quote = text_[pos_++];
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail("escape sequences are not supported in header strings");
      if (text_[pos_] == '\n') fail("unterminated string");
      ++pos_;
    }
    if (pos_ == text_.size()) fail("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  void parse_descr(Header& header) {
    if (peek('[')) fail("structured (record) dtypes are not supported");
    const std::string descr = parse_string();
    if (descr.size() >= 2 && descr[1] == 'O')
      throw InputError(source_, "object arrays ('" + descr + "') hold pickled Python objects; refusing to read them");
    const auto decoded = decode_descr(descr);
    if (!decoded)
      throw InputError(source_, "unsupported .npy dtype '" + descr +
                                    "' (supported: float16/32/64, int8/16/32/64, uint8/16, bool)");
    header.dtype = decoded->dtype;
    header.big_endian = decoded->big_endian;
  }

  bool parse_bool() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }

  std::int64_t parse_dim() {
    if (peek('-')) fail("negative dimension in shape");
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') fail("expected a dimension (integer)");
    std::int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int digit = text_[pos_++] - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("dimension does not fit in 64 bits");
      value = value * 10 + digit;
    }
    consume('L');  // Python 2 long literal, as old NumPy wrote
    return value;
  }

  Shape parse_shape() {
    expect('(');
    skip_space();
    Shape shape;
    bool trailing_comma = false;
    while (!peek(')')) {
      if (shape.size() == kMaxDims) fail("more than " + std::to_string(kMaxDims) + " dimensions");
      shape.push_back(parse_dim());
      skip_space();
      trailing_comma = consume(',');
      if (!trailing_comma) break;
      skip_space();
    }
    expect(')');
    // "(3)" is the integer 3 in Python, not a tuple.
    if (shape.size() == 1 && !trailing_comma) fail("a one-element shape needs a trailing comma, as in (3,)");
    return shape;
  }
};

std::uint32_t load_le(std::span<const std::byte> bytes, std::size_t offset, std::size_t size) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < size; ++i)
    value |= static_cast<std::uint32_t>(bytes[offset + i]) << (8 * i);
  return value;
}

// Rejects shapes whose strides or byte sizes overflow, even when a zero dimension makes
// them empty (NumPy refuses those too).
void check_shape_fits(const Header& h, const std::string& source) {
  std::int64_t span = static_cast<std::int64_t>(dtype_size(h.dtype));
  for (const auto d : h.shape) {
    const std::int64_t extent = d > 1 ? d : 1;
    if (span > std::numeric_limits<std::int64_t>::max() / extent)
      throw InputError(source, ".npy shape " + shape_string(h.shape) + " is too large to address");
    span *= extent;
  }
}

}  // namespace

std::size_t header_size(std::span<const std::byte> head) {
  if (head.size() < kMagicSize + 2 || std::memcmp(head.data(), kMagic, kMagicSize) != 0) return 0;
  const auto major = static_cast<unsigned>(head[6]);
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t text_start = kMagicSize + 2 + length_size;
  if (head.size() < text_start) return text_start;
  return text_start + std::min<std::size_t>(load_le(head, kMagicSize + 2, length_size), kMaxHeaderLength + 1);
}

Header parse_header(std::span<const std::byte> bytes, const std::string& source) {
  return parse_header(bytes, bytes.size(), source);
}

Header parse_header(std::span<const std::byte> bytes, std::uint64_t total_size, const std::string& source) {
  if (bytes.size() < kMagicSize + 2 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    throw InputError(source, "not a .npy file (it does not start with \\x93NUMPY)");
  const auto major = static_cast<unsigned>(bytes[6]);
  const auto minor = static_cast<unsigned>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    throw InputError(source, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor));
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t text_start = kMagicSize + 2 + length_size;
  if (bytes.size() < text_start) throw InputError(source, ".npy file is truncated inside its header");
  const std::size_t text_length = load_le(bytes, kMagicSize + 2, length_size);
  if (text_length > total_size - text_start)
    throw InputError(source, ".npy header claims " + std::to_string(text_length) + " bytes but only " +
                                 std::to_string(total_size - text_start) + " follow (truncated file?)");
  if (text_length > kMaxHeaderLength)
    throw InputError(source, ".npy header of " + std::to_string(text_length) + " bytes is implausibly large");
  if (text_length > bytes.size() - text_start) throw std::logic_error("parse_header: the header is not all in `head`");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + text_start, text_length);
  for (const char c : text)
    if (static_cast<unsigned char>(c) >= 0x80 || (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r' && c != '\t'))
      throw InputError(source, "malformed .npy header: it contains non-ASCII or control bytes");

  Header header = DictParser(text, source).parse();
  header.data_offset = text_start + text_length;
  check_shape_fits(header, source);

  // Element count x item size must be exactly the bytes present (check_shape_fits bounds it).
  const std::int64_t numel = shape_numel(header.shape);
  const std::uint64_t expected = static_cast<std::uint64_t>(numel) * dtype_size(header.dtype);
  const std::uint64_t present = total_size - header.data_offset;
  if (expected != present)
    throw InputError(source, ".npy header announces shape " + shape_string(header.shape) + " of " +
                                 std::string(dtype_name(header.dtype)) + " (" + std::to_string(expected) +
                                 " bytes) but " + std::to_string(present) + " bytes of data follow");
  return header;
}

std::string descr_of(DType dtype) {
  switch (dtype) {
    case DType::F32: return "<f4";
    case DType::F64: return "<f8";
    case DType::F16: return "<f2";
    case DType::I64: return "<i8";
    case DType::I32: return "<i4";
    case DType::I16: return "<i2";
    case DType::I8: return "|i1";
    case DType::U8: return "|u1";
    case DType::U16: return "<u2";
    case DType::Bool: return "|b1";
    case DType::BF16: break;
  }
  throw InputError("", "bfloat16 tensors have no NumPy dtype; convert them to float32 before writing .npy/.npz");
}

std::string format_header(DType dtype, const Shape& shape) {
  std::string shape_text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) shape_text += ", ";
    shape_text += std::to_string(shape[i]);
  }
  shape_text += shape.size() == 1 ? ",)" : ")";
  std::string dict = "{'descr': '" + descr_of(dtype) + "', 'fortran_order': False, 'shape': " + shape_text + ", }";
  if (!shape.empty()) {
    const std::size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthDigits) dict.append(kGrowthDigits - digits, ' ');
  }
  // Version 1.0 stores the length in 2 bytes; 2.0 in 4. Padding keeps the data 64-byte aligned
  // and the dict ends with '\n'.
  for (const unsigned major : {1u, 2u}) {
    const std::size_t length_size = major == 1 ? 2 : 4;
    const std::size_t prefix = kMagicSize + 2 + length_size;
    const std::size_t padding = kAlign - (prefix + dict.size() + 1) % kAlign;
    const std::size_t text_length = dict.size() + padding + 1;
    if (major == 1 && text_length > 0xffff) continue;
    std::string out(reinterpret_cast<const char*>(kMagic), kMagicSize);
    out += static_cast<char>(major);
    out += '\0';
    for (std::size_t i = 0; i < length_size; ++i) out += static_cast<char>((text_length >> (8 * i)) & 0xff);
    out += dict;
    out.append(padding, ' ');
    out += '\n';
    return out;
  }
  throw InputError("", "shape " + shape_string(shape) + " needs a .npy header larger than 4 GiB");
}

}  // namespace medport::ckpt::npy
