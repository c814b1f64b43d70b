// Number and string forms of the pickle protocol: protocol-0 text literals and LONG bytes.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "pickle_internal.hpp"

namespace medport::ckpt::detail {

ValuePtr parse_decimal_integer(std::string_view text) {
  if (!text.empty() && text.back() == 'L') text.remove_suffix(1);
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw std::invalid_argument("not a decimal integer");
  while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
  // Magnitude up to 2^63 fits (2^63 itself only when negative).
  if (text.size() <= 19) {
    unsigned __int128 m = 0;
    for (char c : text) m = m * 10 + static_cast<unsigned>(c - '0');
    const unsigned __int128 limit = static_cast<unsigned __int128>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
    if (m <= limit) {
      const auto magnitude = static_cast<std::uint64_t>(m);
      return Value::integer(negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude));
    }
  }
  return Value::big_integer((negative ? "-" : "") + std::string(text));
}

ValuePtr integer_from_le_bytes(std::span<const unsigned char> bytes) {
  if (bytes.empty()) return Value::integer(0);
  const bool negative = (bytes.back() & 0x80u) != 0;
  // Magnitude, little-endian.
  std::vector<unsigned char> mag(bytes.begin(), bytes.end());
  if (negative) {
    unsigned carry = 1;
    for (auto& b : mag) {
      const unsigned v = static_cast<unsigned>(static_cast<unsigned char>(~b)) + carry;
      b = static_cast<unsigned char>(v & 0xffu);
      carry = v >> 8;
    }
  }
  while (!mag.empty() && mag.back() == 0) mag.pop_back();
  if (mag.size() <= 8) {
    std::uint64_t m = 0;
    for (std::size_t i = mag.size(); i-- > 0;) m = (m << 8) | mag[i];
    if (m <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return Value::integer(negative ? -static_cast<std::int64_t>(m) : static_cast<std::int64_t>(m));
    if (negative && m == std::uint64_t{1} << 63) return Value::integer(std::numeric_limits<std::int64_t>::min());
  }
  std::string text = negative ? "-" : "";
  if (mag.size() > 64) {
    static const char* hex = "0123456789abcdef";
    text += "0x";
    bool leading = true;
    for (std::size_t i = mag.size(); i-- > 0;) {
      const unsigned hi = mag[i] >> 4, lo = mag[i] & 15u;
      if (!(leading && hi == 0)) { text += hex[hi]; leading = false; }
      if (!(leading && lo == 0)) { text += hex[lo]; leading = false; }
    }
    return Value::big_integer(text);
  }
  // Decimal: repeated division of 32-bit limbs by 10^9.
  std::vector<std::uint32_t> limbs((mag.size() + 3) / 4, 0);
  for (std::size_t i = 0; i < mag.size(); ++i) limbs[i / 4] |= static_cast<std::uint32_t>(mag[i]) << (8 * (i % 4));
  std::vector<std::uint32_t> chunks;  // base 10^9, least significant first
  while (!limbs.empty()) {
    std::uint64_t rem = 0;
    for (std::size_t i = limbs.size(); i-- > 0;) {
      const std::uint64_t cur = (rem << 32) | limbs[i];
      limbs[i] = static_cast<std::uint32_t>(cur / 1'000'000'000u);
      rem = cur % 1'000'000'000u;
    }
    chunks.push_back(static_cast<std::uint32_t>(rem));
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
  }
  text += std::to_string(chunks.back());
  for (std::size_t i = chunks.size() - 1; i-- > 0;) {
    const std::string part = std::to_string(chunks[i]);
    text += std::string(9 - part.size(), '0') + part;
  }
  return Value::big_integer(text);
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::vector<std::uint32_t> utf8_code_points(std::string_view text) {
  std::vector<std::uint32_t> out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    int extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) { cp = c; }
    else if ((c & 0xe0) == 0xc0) { cp = c & 0x1fu; extra = 1; }
    else if ((c & 0xf0) == 0xe0) { cp = c & 0x0fu; extra = 2; }
    else if ((c & 0xf8) == 0xf0) { cp = c & 0x07u; extra = 3; }
    else throw std::invalid_argument("invalid UTF-8");
    if (i + static_cast<std::size_t>(extra) >= text.size())
      throw std::invalid_argument("truncated UTF-8");
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xc0) != 0x80) throw std::invalid_argument("invalid UTF-8");
      cp = (cp << 6) | (cc & 0x3fu);
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(extra) + 1;
  }
  return out;
}

bool is_valid_utf8(std::string_view text) {
  // Lenient like CPython's 'surrogatepass': encoded surrogates are accepted, malformed
  // sequences are not.
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    if (c < 0x80) extra = 0;
    else if ((c & 0xe0) == 0xc0 && c >= 0xc2) extra = 1;
    else if ((c & 0xf0) == 0xe0) extra = 2;
    else if ((c & 0xf8) == 0xf0 && c <= 0xf4) extra = 3;
    else return false;
    if (i + extra >= text.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return false;
    i += extra + 1;
  }
  return true;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string decode_python2_string_literal(std::string_view q) {
  if (q.size() < 2 || (q.front() != '\'' && q.front() != '"') || q.back() != q.front())
    throw std::invalid_argument("the STRING opcode argument must be quoted");
  q = q.substr(1, q.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < q.size(); ++i) {
    if (q[i] != '\\' || i + 1 == q.size()) {
      out += q[i];
      continue;
    }
    const char e = q[++i];
    switch (e) {
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case '\n': break;
      case 'x': {
        const int h = i + 2 < q.size() ? hex_value(q[i + 1]) : -1;
        const int l = i + 2 < q.size() ? hex_value(q[i + 2]) : -1;
        if (h < 0 || l < 0) throw std::invalid_argument("invalid \\x escape");
        out += static_cast<char>(h * 16 + l);
        i += 2;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < q.size() && q[i + 1] >= '0' && q[i + 1] <= '7'; ++k) v = v * 8 + (q[++i] - '0');
          out += static_cast<char>(v & 0xff);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

std::string decode_raw_unicode_escape(std::string_view t) {
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '\\' && i + 1 < t.size() && (t[i + 1] == 'u' || t[i + 1] == 'U')) {
      const std::size_t n = t[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n > t.size()) throw std::invalid_argument("truncated \\u escape");
      std::uint32_t cp = 0;
      for (std::size_t k = 0; k < n; ++k) {
        const int h = hex_value(t[i + 2 + k]);
        if (h < 0) throw std::invalid_argument("invalid \\u escape");
        cp = cp * 16 + static_cast<std::uint32_t>(h);
      }
      if (cp > 0x10ffff) throw std::invalid_argument("code point out of range");
      append_utf8(out, cp);
      i += 1 + n;
    } else {
      append_utf8(out, static_cast<unsigned char>(t[i]));
    }
  }
  return out;
}

}  // namespace medport::ckpt::detail
