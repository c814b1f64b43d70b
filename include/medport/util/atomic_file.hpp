#pragma once
// The one way medport writes a file: to a temporary name next to its destination, then renamed
// into place, so that nothing is ever half-written. The temporary is removed when the object
// is destroyed without commit() (an exception, a failed check).
//
// Writers that stream write() through it; libraries that write by file name (nifticlib, libzip)
// take temp_path() after release_handle() - `temp_suffix` keeps the ending they decide by
// (".nii.gz" makes nifticlib compress).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace medport {

class AtomicFile {
 public:
  // Creates the destination's folder if needed and ".<name>.tmp-XXXXXX<suffix>" in it (<name>
  // shortened when the whole would exceed the file system's name limit).
  explicit AtomicFile(std::filesystem::path destination, std::string_view temp_suffix = {});
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::span<const std::byte> bytes);
  void write(std::string_view text);
  void pad_to(std::uint64_t offset);            // zero bytes up to `offset`
  std::uint64_t size() const { return size_; }  // bytes passed through write()/pad_to()
  int native_handle() const { return fd_; }
  // Closes our descriptor without syncing, for a library that then writes temp_path() itself.
  void release_handle();
  // Flushes (fsync) and closes; the file can be read at temp_path() until commit().
  void close();
  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& destination() const { return destination_; }
  // close() if needed, then rename onto the destination (mode 0644).
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temp_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace medport
