#pragma once
// The .npy header: parsing the Python-literal dict NumPy writes, and formatting it the way
// NumPy 1.24 does (so files written here are byte-identical to np.save's).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "medport/dtype.hpp"
#include "medport/tensor.hpp"

namespace medport::ckpt::npy {

struct Header {
  DType dtype = DType::F32;
  bool big_endian = false;
  bool fortran_order = false;
  Shape shape;
  std::size_t data_offset = 0;  // where the array bytes start
};

// Parses magic, version, length and dict; checks that the data that follows has exactly
// the size the header announces. Throws InputError naming `source`.
Header parse_header(std::span<const std::byte> bytes, const std::string& source);
// The same from the first bytes of an array of `total_size` bytes (at least the whole header
// must be in `head`): reading a header never needs the data.
Header parse_header(std::span<const std::byte> head, std::uint64_t total_size, const std::string& source);
// Bytes needed to hold the whole header of the array starting with `head` (at least its first
// 12 bytes, or all of it if shorter); 0 when `head` is no .npy start.
std::size_t header_size(std::span<const std::byte> head);

// Magic, version, length and padded dict for a C-order little-endian array.
std::string format_header(DType dtype, const Shape& shape);

// '<f4', '|u1', ... ; throws InputError for bfloat16 (NumPy has no such dtype).
std::string descr_of(DType dtype);

}  // namespace medport::ckpt::npy
