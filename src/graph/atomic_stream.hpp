#pragma once
// A file written in pieces to a temporary name next to its destination, then renamed into
// place. Used for external-data files too big to assemble in memory and for models that are
// checked before they become visible. Unfinished files are removed by the destructor.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace medport::graph {

class AtomicFileStream {
 public:
  explicit AtomicFileStream(std::filesystem::path destination);
  ~AtomicFileStream();
  AtomicFileStream(const AtomicFileStream&) = delete;
  AtomicFileStream& operator=(const AtomicFileStream&) = delete;

  void write(std::span<const std::byte> bytes);
  void pad_to(std::uint64_t offset);  // zero bytes up to `offset`
  std::uint64_t size() const { return size_; }  // bytes passed through write()/pad_to()
  int native_handle() const { return fd_; }     // for writers that stream on their own
  // Flushes and closes the temporary file; it can be read at temp_path() until commit().
  void close();
  const std::filesystem::path& temp_path() const { return temp_; }
  void commit();  // close() if needed, then rename onto the destination

 private:
  std::filesystem::path destination_;
  std::filesystem::path temp_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace medport::graph
