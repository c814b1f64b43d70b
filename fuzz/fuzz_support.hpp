#pragma once
// Shared by the fuzz targets: a readable input must only ever fail with medport::InputError.
// Any other exception escapes LLVMFuzzerTestOneInput and libFuzzer reports it as a crash.
#include <cstddef>
#include <cstdint>
#include <span>

#include "medport/tensor.hpp"

namespace medport::fuzz {

inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

// Touches every element so the sanitizers see reads of the whole result.
inline std::uint64_t checksum(const Tensor& t) {
  std::uint64_t sum = 0;
  for (const std::byte b : t.contiguous_bytes()) sum = sum * 31 + static_cast<std::uint8_t>(b);
  return sum;
}

// Fails loudly (a crash libFuzzer records) when an invariant does not hold.
inline void require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace medport::fuzz
