#include "medport/util/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"

namespace medport {

namespace fs = std::filesystem;

std::vector<std::byte> read_file(const fs::path& path, std::size_t max_bytes) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  // A symlink loop, a name too long or a folder without permission is not "no such file".
  if (ec && ec != std::errc::no_such_file_or_directory) throw InputError(path.string(), "cannot open: " + ec.message());
  if (ec || !fs::exists(status)) throw InputError(path.string(), "no such file");
  if (fs::is_directory(status)) throw InputError(path.string(), "is a directory, expected a file");
  if (!fs::is_regular_file(status)) throw InputError(path.string(), "is not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) throw InputError(path.string(), "cannot read its size: " + ec.message());
  if (size == 0) throw InputError(path.string(), "file is empty");
  if (size > max_bytes) throw InputError(path.string(), "file is larger than the " + std::to_string(max_bytes) + " bytes allowed");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path.string(), std::string("cannot open: ") + std::strerror(errno));
  std::vector<std::byte> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (in.gcount() != static_cast<std::streamsize>(size)) throw InputError(path.string(), "short read");
  return bytes;
}

std::string unusable_input_reason(const fs::path& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) return "cannot be read: " + ec.message();
  return fs::exists(status) ? "not a regular file or folder (a device, FIFO or socket)" : "no such file or folder";
}

void write_file_atomic(const fs::path& path, std::span<const std::byte> bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

void write_file_atomic(const fs::path& path, std::string_view text) {
  write_file_atomic(path, std::as_bytes(std::span(text.data(), text.size())));
}

}  // namespace medport
