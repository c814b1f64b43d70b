#pragma once
// MIL blob storage, version 2 (Core ML's weight.bin): a 64-byte header {u32 count, u32 version = 2,
// reserved}, then per blob a 64-byte metadata record {u32 sentinel 0xDEADBEEF, u32 dtype, u64 size
// in bytes, u64 data offset, u64 padding bits, reserved} on a 64-byte boundary, its data right after
// (also 64-byte aligned). A program refers to a blob by the offset of its metadata record.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::coreml {

enum class BlobDType : std::uint32_t { Float16 = 1, Float32 = 2 };

inline constexpr std::uint32_t kBlobSentinel = 0xDEADBEEF;
inline constexpr std::uint32_t kBlobStorageVersion = 2;
inline constexpr std::uint64_t kBlobAlignment = 64;
inline constexpr std::uint64_t kBlobHeaderBytes = 64;
inline constexpr std::uint64_t kBlobMetadataBytes = 64;

std::size_t blob_dtype_size(BlobDType dtype);

// Where each blob goes, decided before anything is written (the program needs the offsets).
class BlobPlan {
 public:
  struct Entry {
    BlobDType dtype;
    std::uint64_t size = 0;             // data bytes
    std::uint64_t metadata_offset = 0;  // what BlobFileValue.offset holds
    std::uint64_t data_offset = 0;
    Tensor source;                      // written converted to `dtype` (any float dtype/strides)
  };
  // Returns the metadata offset of the new blob.
  std::uint64_t add(const Tensor& source, BlobDType dtype);
  const std::vector<Entry>& entries() const { return entries_; }
  std::uint64_t file_size() const { return end_; }
  std::uint64_t data_bytes() const;

 private:
  std::vector<Entry> entries_;
  std::uint64_t end_ = kBlobHeaderBytes;
};

// Streams the planned blobs to `path` (atomically) converting chunk by chunk, so memory stays
// at one chunk beyond the source tensors. Returns the hex SHA-256 of the file written.
std::string write_blob_file(const BlobPlan& plan, const std::filesystem::path& path);

// Reads and checks a weight file (sentinel, version, dtype, sizes, offsets, alignment).
class BlobReader {
 public:
  struct Blob {
    BlobDType dtype;
    std::uint64_t size = 0;
    std::uint64_t data_offset = 0;
  };
  // Maps the file read-only; InputError naming it when it is not blob storage v2.
  explicit BlobReader(const std::filesystem::path& path);
  ~BlobReader();
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;

  std::uint32_t count() const { return count_; }
  std::uint64_t file_size() const { return size_; }
  // The record at `metadata_offset` (InputError naming the file for a bad offset or record).
  Blob blob(std::uint64_t metadata_offset) const;
  // Every record in file order (walking from the first one).
  std::vector<std::uint64_t> metadata_offsets() const;
  // The blob's data as a tensor of `shape` (float16 or float32, as stored); InputError when the
  // byte size does not match the shape.
  Tensor tensor(std::uint64_t metadata_offset, const Shape& shape) const;

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint32_t count_ = 0;
};

}  // namespace medport::coreml
