#pragma once
// The .npy header: parsing the Python-literal dict NumPy writes, and formatting it the way
// NumPy 1.24 does (so files written here are byte-identical to np.save's).
#include <cstddef>
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

// Magic, version, length and padded dict for a C-order little-endian array.
std::string format_header(DType dtype, const Shape& shape);

// '<f4', '|u1', ... ; throws InputError for bfloat16 (NumPy has no such dtype).
std::string descr_of(DType dtype);

}  // namespace medport::ckpt::npy
