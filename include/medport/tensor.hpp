#pragma once
// A strided view over shared, immutable storage: what a PyTorch tensor is in a checkpoint.
// Several tensors may view one Storage with different offsets, shapes and strides.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "medport/dtype.hpp"

namespace medport {

using Shape = std::vector<std::int64_t>;

// Little-endian bytes of `numel` elements of one dtype.
class Storage {
 public:
  Storage(DType dtype, std::vector<std::byte> bytes, std::string key = {});
  DType dtype() const { return dtype_; }
  std::int64_t numel() const { return static_cast<std::int64_t>(bytes_.size() / dtype_size(dtype_)); }
  std::size_t nbytes() const { return bytes_.size(); }
  const std::byte* data() const { return bytes_.data(); }
  std::byte* mutable_data() { return bytes_.data(); }
  // The storage's name inside its container (e.g. the torch zip record key), empty if none.
  const std::string& key() const { return key_; }

 private:
  DType dtype_;
  std::vector<std::byte> bytes_;
  std::string key_;
};

std::int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Checks that every element the view can address lies inside the storage
  // (throws std::out_of_range otherwise) - views from untrusted files go through here.
  Tensor(std::shared_ptr<const Storage> storage, std::int64_t offset, Shape shape, Shape strides);

  // A new contiguous, zero-filled tensor.
  static Tensor zeros(DType dtype, Shape shape);
  // A new contiguous tensor holding a copy of `values`.
  static Tensor from_f32(Shape shape, std::span<const float> values);
  static Tensor from_bytes(DType dtype, Shape shape, std::span<const std::byte> bytes);

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return storage_ ? storage_->dtype() : DType::F32; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  std::int64_t offset() const { return offset_; }
  std::int64_t numel() const { return shape_numel(shape_); }
  std::size_t ndim() const { return shape_.size(); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype()); }
  bool is_contiguous() const;
  const std::shared_ptr<const Storage>& storage() const { return storage_; }

  // Address of the first element (valid for contiguous tensors or with the strides).
  const std::byte* raw_data() const;
  template <class T>
  const T* data() const { return reinterpret_cast<const T*>(raw_data()); }

  // This tensor if already contiguous, otherwise a gathered copy with its own storage.
  Tensor contiguous() const;
  // Row-major element bytes of the view (gathered if strided).
  std::vector<std::byte> contiguous_bytes() const;
  // Row-major values converted to float32 (bool -> 0/1, integers rounded to nearest float).
  std::vector<float> to_f32() const;
  // A contiguous copy converted to another dtype (float <-> float, int <-> float, ...).
  Tensor to(DType dtype) const;
  Tensor reshaped(Shape shape) const;  // contiguous tensors only

 private:
  std::shared_ptr<const Storage> storage_;
  std::int64_t offset_ = 0;
  Shape shape_;
  Shape strides_;
};

std::string shape_string(const Shape& shape);  // "[2, 3, 4]"

}  // namespace medport
