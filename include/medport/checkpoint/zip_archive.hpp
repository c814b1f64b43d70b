#pragma once
// Read-only access to a zip archive (torch zip checkpoints, npz) in place: the central directory
// (ZIP64 included) is parsed from the bytes, stored entries are viewed where they lie (torch
// writes its storages stored and 64-byte aligned) and deflated ones are inflated with zlib.
//
// Opening checks every entry against the archive up front: local headers present and matching,
// data inside the archive before the central directory, entries not overlapping, names unique.
// So a truncated archive is refused when opened, not when an entry is read. Encrypted entries
// and methods other than stored/deflated are refused when read. All errors are InputError naming
// the archive (and the entry when there is one).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "medport/checkpoint/file_bytes.hpp"
#include "medport/tensor.hpp"

namespace medport::ckpt {

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;  // 0 stored, 8 deflated
  bool encrypted = false;
  std::uint32_t crc32 = 0;
  std::uint64_t compressed_size = 0;
  std::uint64_t size = 0;            // uncompressed
  std::uint64_t header_offset = 0;   // the local file header
  std::uint64_t data_offset = 0;     // first byte of the (compressed) data
};

class ZipArchive {
 public:
  explicit ZipArchive(std::shared_ptr<const FileBytes> file);
  // An archive held in memory; `source` names it in error messages.
  ZipArchive(std::shared_ptr<const std::vector<std::byte>> bytes, std::string source);
  static ZipArchive open_file(const std::filesystem::path& path);  // memory-mapped
  ~ZipArchive();
  ZipArchive(ZipArchive&&) noexcept;
  ZipArchive& operator=(ZipArchive&&) noexcept;

  const std::string& source() const;
  const std::shared_ptr<const FileBytes>& file() const;
  const std::vector<std::string>& entry_names() const;  // central directory order
  bool contains(const std::string& name) const;
  const ZipEntry& entry(const std::string& name) const;  // InputError when missing
  std::uint64_t entry_size(const std::string& name) const;

  // Decompressed bytes of one entry; CRC and size are verified. `max_bytes` bounds what is
  // allocated (the recorded size is checked against it first).
  std::vector<std::byte> read(const std::string& name, std::uint64_t max_bytes = std::uint64_t{1} << 36) const;
  // The same without a copy for stored entries (a view of the archive); deflated ones are inflated.
  ByteView contents(const std::string& name, std::uint64_t max_bytes = std::uint64_t{1} << 36) const;
  // At most the first `length` bytes of the entry, inflating no more than that (headers of large
  // members); the CRC cannot be checked without the rest.
  std::vector<std::byte> read_prefix(const std::string& name, std::size_t length) const;

  // Checks every stored entry against its CRC (pages released again after each), so that damage
  // anywhere in the archive - also in members nobody reads, such as optimizer state - is an
  // InputError naming the entry. Deflated entries are checked when they are inflated.
  void verify_stored_entries() const;

  // The entry as a lazy Storage of `dtype` elements named `key`: nothing is read until the
  // storage's data is first used. A stored, little-endian, element-aligned entry is then a view of
  // the archive (checked against its CRC first; its pages are released again after the check);
  // otherwise it is inflated and/or byte-swapped into a buffer of its own (`swap_bytes`: the
  // elements are big-endian). Errors surface as InputError from Storage::data().
  // `check_crc` false: an in-place view skips the check (the caller verifies the entry itself).
  std::shared_ptr<const Storage> storage(const std::string& name, DType dtype, std::string key,
                                         bool swap_bytes = false, bool check_crc = true) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when the bytes start like a zip archive ("PK\x03\x04", or an empty archive "PK\x05\x06").
bool looks_like_zip(std::span<const std::byte> bytes);

}  // namespace medport::ckpt
