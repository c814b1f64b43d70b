#pragma once
// The read-only bytes of an input, memory-mapped (or a buffer already in memory), shared by
// every Storage that views them: the readers hand out views into the mapping instead of copies.
//
// A file that shrinks while it is mapped is the caller's problem (reads past the new end fault);
// every reader checks its records against size() up front, so a file shorter than its records
// claim is an InputError, never a fault.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::ckpt {

class FileBytes : public std::enable_shared_from_this<FileBytes> {
 public:
  // Maps PATH read-only. InputError naming it when it is missing, not a regular file, empty or
  // cannot be mapped.
  static std::shared_ptr<const FileBytes> map(const std::filesystem::path& path);
  // Bytes already in memory (fuzzing, archives inside archives); `source` names them in messages.
  static std::shared_ptr<const FileBytes> in_memory(std::shared_ptr<const std::vector<std::byte>> bytes,
                                                    std::string source);
  ~FileBytes();
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  const std::string& source() const { return source_; }
  std::span<const std::byte> bytes() const { return bytes_; }
  std::uint64_t size() const { return bytes_.size(); }
  bool is_mapped() const { return mapping_ != nullptr; }

  // True when [offset, offset + length) lies inside the bytes (no overflow).
  bool contains(std::uint64_t offset, std::uint64_t length) const {
    return offset <= size() && length <= size() - offset;
  }
  // A view of [offset, offset + length) that keeps these bytes alive; std::out_of_range when it
  // does not lie inside them (callers check with contains() and report an InputError first).
  ByteView view(std::uint64_t offset, std::uint64_t length) const;

  // Hex SHA-256 of all bytes, hashed in chunks whose mapped pages are released again (memory
  // stays flat). Returns "" when `cancel` becomes true before the end.
  std::string sha256(const std::atomic<bool>* cancel = nullptr) const;

 private:
  FileBytes() = default;
  std::string source_;
  std::span<const std::byte> bytes_;
  void* mapping_ = nullptr;  // munmap'ed on destruction
  std::shared_ptr<const std::vector<std::byte>> memory_;
};

}  // namespace medport::ckpt
