#pragma once
// Byte order of stored elements (not a public header).
#include <algorithm>
#include <cstddef>
#include <span>

namespace medport::ckpt::detail {

// Reverses the bytes of every `element_size`-byte element (big-endian <-> little-endian).
inline void swap_element_bytes(std::span<std::byte> bytes, std::size_t element_size) {
  if (element_size <= 1) return;
  for (std::size_t i = 0; i + element_size <= bytes.size(); i += element_size)
    std::reverse(bytes.begin() + static_cast<std::ptrdiff_t>(i), bytes.begin() + static_cast<std::ptrdiff_t>(i + element_size));
}

}  // namespace medport::ckpt::detail
