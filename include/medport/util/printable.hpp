#pragma once
// Text from files (checkpoint keys, GLOBAL names, paths with any bytes) made safe to print on a
// terminal: a control character (ESC, CR, BEL, ...) or a byte that is not UTF-8 is shown as a
// \xNN escape, so a string in a file can never move the cursor, recolour or rewrite the screen.
#include <cstddef>
#include <string>
#include <string_view>

namespace medport {

std::string printable(std::string_view text);
// printable() on one line: line breaks and tabs escaped too, and cut to about `max_chars`
// characters, saying how much was left out ("... (1234 more bytes)").
std::string printable_line(std::string_view text, std::size_t max_chars = 400);

}  // namespace medport
