#include "medport/checkpoint/file_bytes.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::ckpt {

namespace fs = std::filesystem;

namespace {

struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::shared_ptr<const FileBytes> FileBytes::map(const fs::path& path) {
  const std::string source = path.string();
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw InputError(source, "no such file");
  if (fs::is_directory(status)) throw InputError(source, "is a directory, expected a file");
  if (!fs::is_regular_file(status)) throw InputError(source, "is not a regular file");
  Descriptor d;
  d.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (d.fd < 0) throw InputError(source, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(d.fd, &st) != 0) throw InputError(source, std::string("cannot read its size: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw InputError(source, "is not a regular file");
  if (st.st_size == 0) throw InputError(source, "file is empty");
  const auto size = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, d.fd, 0);
  if (p == MAP_FAILED) throw InputError(source, std::string("cannot map the file: ") + std::strerror(errno));
  std::shared_ptr<FileBytes> out(new FileBytes());
  out->source_ = source;
  out->mapping_ = p;
  out->bytes_ = {static_cast<const std::byte*>(p), size};
  return out;
}

std::shared_ptr<const FileBytes> FileBytes::in_memory(std::shared_ptr<const std::vector<std::byte>> bytes,
                                                      std::string source) {
  if (!bytes) throw std::invalid_argument("FileBytes::in_memory without bytes");
  std::shared_ptr<FileBytes> out(new FileBytes());
  out->source_ = std::move(source);
  out->bytes_ = {bytes->data(), bytes->size()};
  out->memory_ = std::move(bytes);
  return out;
}

FileBytes::~FileBytes() {
  if (mapping_) ::munmap(mapping_, bytes_.size());
}

ByteView FileBytes::view(std::uint64_t offset, std::uint64_t length) const {
  if (!contains(offset, length))
    throw std::out_of_range(source_ + ": bytes [" + std::to_string(offset) + ", +" + std::to_string(length) +
                            ") lie outside the " + std::to_string(size()) + "-byte input");
  return {bytes_.subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(length)), shared_from_this(),
          is_mapped()};
}

std::string FileBytes::sha256(const std::atomic<bool>* cancel) const {
  constexpr std::size_t kChunk = std::size_t{8} << 20;
  Sha256 sha;
  for (std::size_t at = 0; at < bytes_.size(); at += kChunk) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return {};
    const auto piece = bytes_.subspan(at, std::min(kChunk, bytes_.size() - at));
    sha.update(piece);
    ByteView{piece, nullptr, is_mapped()}.release_pages();
  }
  return sha.hex();
}

}  // namespace medport::ckpt
