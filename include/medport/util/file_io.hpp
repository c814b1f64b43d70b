#pragma once
// Reading inputs with errors that name the file, and writing outputs atomically
// (temp file in the same folder, then rename) so nothing is ever half-written.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace medport {

// Whole file into memory. Throws InputError for missing files, directories, empty files and
// unreadable files, always naming the path. `max_bytes` guards against absurd inputs.
std::vector<std::byte> read_file(const std::filesystem::path& path,
                                 std::size_t max_bytes = std::size_t{64} << 30);

// Why an input that is neither a regular file nor a folder cannot be used: "no such file or
// folder", or "not a regular file or folder (a device, FIFO or socket)".
std::string unusable_input_reason(const std::filesystem::path& path);

// Writes `bytes` to `path` via `path.tmp-XXXX` + rename; creates parent folders.
void write_file_atomic(const std::filesystem::path& path, std::span<const std::byte> bytes);
void write_file_atomic(const std::filesystem::path& path, std::string_view text);

// Hex SHA-256 of a file's bytes (sidecars record the source checkpoint's hash).
std::string sha256_hex(std::span<const std::byte> bytes);

// The same fed piece by piece (large files hashed in chunks).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const std::byte> bytes);
  std::string hex();  // finishes the digest; call once
 private:
  void* context_;
};

}  // namespace medport
