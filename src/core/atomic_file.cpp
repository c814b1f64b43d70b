#include "medport/util/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "medport/error.hpp"

namespace medport {

namespace fs = std::filesystem;

namespace {

// The rename would replace whatever the destination is: a device node (-o /dev/null as root), a
// FIFO or a socket must never be swapped for a regular file.
void check_replaceable(const fs::path& destination) {
  struct stat st {};
  if (::lstat(destination.c_str(), &st) != 0) return;  // not there yet (or unreadable: rename reports)
  if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) return;
  const char* what = S_ISDIR(st.st_mode) ? "a folder" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "not a regular file";
  throw InputError(destination.string(), std::string("is ") + what + "; medport writes only regular files");
}

}  // namespace

AtomicFile::AtomicFile(fs::path destination, std::string_view temp_suffix) : destination_(std::move(destination)) {
  check_replaceable(destination_);
  const fs::path parent = destination_.has_parent_path() ? destination_.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw InputError(parent.string(), "cannot create folder: " + ec.message());
  // "." + name + ".tmp-XXXXXX" + suffix must itself fit the file system's name limit, so a name
  // close to the limit gets a shortened temporary (the rename gives the full name back).
  std::string name = destination_.filename().string();
  const long name_max = ::pathconf(parent.c_str(), _PC_NAME_MAX);
  const std::size_t limit = name_max > 0 ? static_cast<std::size_t>(name_max) : 255;
  const std::size_t overhead = 1 + 11 + temp_suffix.size();
  if (name.size() + overhead > limit) name.resize(limit > overhead ? limit - overhead : 0);
  std::string tmpl = (parent / ("." + name + ".tmp-XXXXXX")).string();
  tmpl += temp_suffix;
  fd_ = ::mkstemps(tmpl.data(), static_cast<int>(temp_suffix.size()));
  if (fd_ < 0) throw InputError(destination_.string(), std::string("cannot create a temporary file: ") + std::strerror(errno));
  temp_ = tmpl;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(std::span<const std::byte> bytes) {
  if (fd_ < 0) throw std::logic_error("AtomicFile: write after close");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw InputError(destination_.string(), std::string("write failed: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  size_ += bytes.size();
}

void AtomicFile::write(std::string_view text) { write(std::as_bytes(std::span(text.data(), text.size()))); }

void AtomicFile::pad_to(std::uint64_t offset) {
  static const std::vector<std::byte> zeros(4096);
  while (size_ < offset) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(offset - size_, zeros.size()));
    write(std::span(zeros.data(), n));
  }
}

void AtomicFile::release_handle() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

void AtomicFile::close() {
  if (fd_ < 0) return;
  const bool synced = ::fsync(fd_) == 0;
  const bool closed = ::close(fd_) == 0;
  fd_ = -1;
  if (!synced || !closed) throw InputError(destination_.string(), "cannot flush the file to disk");
}

void AtomicFile::commit() {
  if (fd_ >= 0) {
    close();
  } else {  // a library wrote the temporary by name: make its bytes durable too
    const int fd = ::open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }
  ::chmod(temp_.c_str(), 0644);
  check_replaceable(destination_);
  if (std::rename(temp_.c_str(), destination_.c_str()) != 0)
    throw InputError(destination_.string(),
                     std::string("cannot move the finished file into place: ") + std::strerror(errno));
  committed_ = true;
}

}  // namespace medport
