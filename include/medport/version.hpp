#pragma once
#include <string_view>

namespace medport {
inline constexpr std::string_view kVersion = "0.1.0";
}  // namespace medport
