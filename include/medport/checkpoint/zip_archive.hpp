#pragma once
// Read-only access to a zip archive (torch zip checkpoints, npz), backed by libzip.
// All errors are InputError naming the archive (and the entry when there is one).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace medport::ckpt {

class ZipArchive {
 public:
  // Opens an archive held in memory; `source` names it in error messages.
  ZipArchive(std::shared_ptr<const std::vector<std::byte>> bytes, std::string source);
  static ZipArchive open_file(const std::filesystem::path& path);
  ~ZipArchive();
  ZipArchive(ZipArchive&&) noexcept;
  ZipArchive& operator=(ZipArchive&&) noexcept;

  const std::string& source() const { return source_; }
  const std::vector<std::string>& entry_names() const { return names_; }
  bool contains(const std::string& name) const;
  // Uncompressed size as recorded in the central directory.
  std::uint64_t entry_size(const std::string& name) const;
  // Decompressed bytes of one entry; CRC and size are verified. `max_bytes` bounds what is
  // allocated (the recorded size is checked against it first).
  std::vector<std::byte> read(const std::string& name, std::uint64_t max_bytes = std::uint64_t{1} << 36) const;

 private:
  struct Handle;
  std::shared_ptr<const std::vector<std::byte>> bytes_;
  std::string source_;
  std::unique_ptr<Handle> handle_;
  std::vector<std::string> names_;
  std::int64_t index_of(const std::string& name) const;
};

// True when the bytes start like a zip archive ("PK\x03\x04", or an empty archive "PK\x05\x06").
bool looks_like_zip(std::span<const std::byte> bytes);

}  // namespace medport::ckpt
