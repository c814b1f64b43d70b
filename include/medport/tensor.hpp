#pragma once
// A strided view over shared, immutable storage: what a PyTorch tensor is in a checkpoint.
// Several tensors may view one Storage with different offsets, shapes and strides.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "medport/dtype.hpp"

namespace medport {

using Shape = std::vector<std::int64_t>;

// Memory a Storage may view instead of owning: `bytes` stay valid while `owner` lives (a file
// mapping, another storage, a buffer). `file_backed` says the bytes are a read-only mapping of a
// file whose pages the process may drop and fault in again (release_pages()).
struct ByteView {
  std::span<const std::byte> bytes;
  std::shared_ptr<const void> owner;
  bool file_backed = false;

  // For file-backed views: lets the OS drop this process's mapping of the whole pages inside
  // `bytes` (the data stays in the page cache and is mapped again on the next read). A no-op
  // otherwise: memory that is not a read-only file mapping must never be dropped.
  void release_pages() const;
};

// Little-endian bytes of `numel` elements of one dtype: owned, a view of memory owned by
// someone else (a memory-mapped checkpoint), or produced on first access by a loader (a record
// that must be decompressed or checked first). Shared and immutable once created.
class Storage {
 public:
  // Produces the bytes on first access: exactly nbytes of them (a view or an owned buffer held by
  // the view's owner). May throw (InputError for a damaged file); the next access tries again.
  using Loader = std::function<ByteView()>;

  Storage(DType dtype, std::vector<std::byte> bytes, std::string key = {});
  Storage(DType dtype, ByteView view, std::string key = {});
  Storage(DType dtype, std::size_t nbytes, Loader loader, std::string key = {});
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  DType dtype() const { return dtype_; }
  std::int64_t numel() const { return static_cast<std::int64_t>(nbytes_ / dtype_size(dtype_)); }
  std::size_t nbytes() const { return nbytes_; }
  // The bytes; runs the loader on first use (thread-safe).
  const std::byte* data() const;
  std::span<const std::byte> bytes() const { return {data(), nbytes_}; }
  // `length` bytes from `offset` as a view sharing this storage's memory (loads it first);
  // std::out_of_range when they do not lie inside it.
  ByteView view(std::size_t offset, std::size_t length) const;
  // Owned storages only (std::logic_error for views: their memory is read-only).
  std::byte* mutable_data();
  bool owns_bytes() const { return owned_ != nullptr; }
  // True when the bytes are a view of a memory-mapped file (loads a lazy storage first).
  bool file_backed() const;
  // False until a lazy storage's loader has run.
  bool loaded() const;
  // Hint for file-backed views: this process's mapping of the bytes may be dropped (they stay in
  // the page cache and are mapped again when read). Keeps peak memory flat while streaming large
  // checkpoints; a no-op for memory that is not a file mapping.
  void release_pages() const;
  // The storage's name inside its container (e.g. the torch zip record key), empty if none.
  const std::string& key() const { return key_; }

 private:
  void load() const;
  DType dtype_;
  std::size_t nbytes_ = 0;
  std::string key_;
  std::byte* owned_ = nullptr;  // into view_.owner when this storage owns its bytes
  mutable ByteView view_;
  Loader loader_;
  mutable std::once_flag loaded_once_;
  mutable std::atomic<bool> loaded_{true};
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
  const std::byte* row_major_bytes(std::vector<std::byte>& scratch) const;
  std::shared_ptr<const Storage> storage_;
  std::int64_t offset_ = 0;
  Shape shape_;
  Shape strides_;
};

std::string shape_string(const Shape& shape);  // "[2, 3, 4]"

}  // namespace medport
