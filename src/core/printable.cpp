#include "medport/util/printable.hpp"

#include <cstdio>

namespace medport {
namespace {

// Length of the valid UTF-8 sequence starting at text[i] (1 to 4), or 0 when it is not one.
std::size_t utf8_length(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  std::size_t n = 0;
  unsigned min = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) n = 2, min = 0x80;
  else if ((c & 0xF0) == 0xE0) n = 3, min = 0x800;
  else if ((c & 0xF8) == 0xF0) n = 4, min = 0x10000;
  else return 0;
  if (i + n > text.size()) return 0;
  unsigned code = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    code = (code << 6) | (b & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  // C1 controls (U+0080..U+009F) act like ESC sequences on some terminals.
  if (code >= 0x80 && code <= 0x9F) return 0;
  return n;
}

void escape_byte(std::string& out, unsigned char c) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  out += buf;
}

std::string escape(std::string_view text, bool one_line, std::size_t max_chars, std::size_t* consumed) {
  std::string out;
  std::size_t i = 0, shown = 0;
  while (i < text.size() && shown < max_chars) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = utf8_length(text, i);
    const bool keep_newline = !one_line && (c == '\n' || c == '\t');
    if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7F) && !keep_newline)) {
      escape_byte(out, c);
      i += 1;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
    ++shown;
  }
  if (consumed) *consumed = i;
  return out;
}

}  // namespace

std::string printable(std::string_view text) { return escape(text, false, text.size(), nullptr); }

std::string printable_line(std::string_view text, std::size_t max_chars) {
  std::size_t consumed = 0;
  std::string out = escape(text, true, max_chars, &consumed);
  if (consumed < text.size()) out += " ... (" + std::to_string(text.size() - consumed) + " more bytes)";
  return out;
}

}  // namespace medport
