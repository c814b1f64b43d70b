#include "atomic_stream.hpp"

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

namespace medport::graph {

namespace fs = std::filesystem;

AtomicFileStream::AtomicFileStream(fs::path destination) : destination_(std::move(destination)) {
  const fs::path parent = destination_.has_parent_path() ? destination_.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw InputError(parent.string(), "cannot create folder: " + ec.message());
  std::string tmpl = (parent / ("." + destination_.filename().string() + ".tmp-XXXXXX")).string();
  fd_ = ::mkstemp(tmpl.data());
  if (fd_ < 0) throw InputError(destination_.string(), std::string("cannot create a temporary file: ") + std::strerror(errno));
  temp_ = tmpl;
}

AtomicFileStream::~AtomicFileStream() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFileStream::write(std::span<const std::byte> bytes) {
  if (fd_ < 0) throw std::logic_error("AtomicFileStream: write after close");
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

void AtomicFileStream::pad_to(std::uint64_t offset) {
  static const std::vector<std::byte> zeros(4096);
  while (size_ < offset) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(offset - size_, zeros.size()));
    write(std::span(zeros.data(), n));
  }
}

void AtomicFileStream::close() {
  if (fd_ < 0) return;
  ::fchmod(fd_, 0644);
  const bool synced = ::fsync(fd_) == 0;
  const bool closed = ::close(fd_) == 0;
  fd_ = -1;
  if (!synced || !closed) throw InputError(destination_.string(), "cannot flush the file to disk");
}

void AtomicFileStream::commit() {
  close();
  if (std::rename(temp_.c_str(), destination_.c_str()) != 0)
    throw InputError(destination_.string(),
                     std::string("cannot move the finished file into place: ") + std::strerror(errno));
  committed_ = true;
}

}  // namespace medport::graph
