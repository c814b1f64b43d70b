#include <algorithm>
#include <utility>

#include "checkpoint/byte_order.hpp"
#include "checkpoint/npy_format.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::ckpt {
namespace {

// Column-major strides: the first index varies fastest.
Shape fortran_strides(const Shape& shape) {
  Shape strides(shape.size());
  std::int64_t step = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    strides[i] = step;
    step *= std::max<std::int64_t>(shape[i], 1);
  }
  return strides;
}

}  // namespace

Tensor read_npy(std::span<const std::byte> bytes, const std::string& source) {
  const npy::Header header = npy::parse_header(bytes, source);
  std::vector<std::byte> data(bytes.begin() + static_cast<std::ptrdiff_t>(header.data_offset), bytes.end());
  if (header.big_endian) detail::swap_element_bytes(data, dtype_size(header.dtype));
  // NumPy bools are bytes; anything non-zero is True.
  if (header.dtype == DType::Bool)
    for (auto& b : data) b = b != std::byte{0} ? std::byte{1} : std::byte{0};
  auto storage = std::make_shared<const Storage>(header.dtype, std::move(data));
  if (!header.fortran_order || header.shape.size() < 2)
    return Tensor(std::move(storage), 0, header.shape, contiguous_strides(header.shape));
  // Callers get row-major data whatever the file's order.
  return Tensor(std::move(storage), 0, header.shape, fortran_strides(header.shape)).contiguous();
}

NpyInfo read_npy_info(std::span<const std::byte> bytes, const std::string& source) {
  const npy::Header header = npy::parse_header(bytes, source);
  return {header.dtype, header.shape, header.fortran_order};
}

Tensor read_npy_file(const std::filesystem::path& path) {
  const auto bytes = read_file(path);
  return read_npy(bytes, path.string());
}

std::vector<std::byte> write_npy(const Tensor& tensor) {
  if (!tensor.defined()) throw InputError("", "cannot write an undefined tensor as .npy");
  const std::string header = npy::format_header(tensor.dtype(), tensor.shape());
  std::vector<std::byte> out;
  out.reserve(header.size() + tensor.nbytes());
  const auto* h = reinterpret_cast<const std::byte*>(header.data());
  out.insert(out.end(), h, h + header.size());
  if (tensor.is_contiguous()) {
    out.insert(out.end(), tensor.raw_data(), tensor.raw_data() + tensor.nbytes());
  } else {
    const auto data = tensor.contiguous_bytes();
    out.insert(out.end(), data.begin(), data.end());
  }
  return out;
}

void write_npy_file(const std::filesystem::path& path, const Tensor& tensor) {
  std::vector<std::byte> bytes;
  try {
    bytes = write_npy(tensor);
  } catch (const InputError& e) {
    throw InputError(path.string(), e.what());
  }
  write_file_atomic(path, bytes);
}

}  // namespace medport::ckpt
