#include "bank_file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "medport/error.hpp"

namespace medport::pipelines::fewshot::detail {

BankFileLock::BankFileLock(const std::filesystem::path& bank_path, Mode mode) {
  const std::filesystem::path lock_path = bank_path.string() + ".lock";
  if (mode == Mode::Exclusive && bank_path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(bank_path.parent_path(), ec);
  }
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    if (mode == Mode::Shared && (err == EACCES || err == EROFS || err == ENOENT)) return;
    throw InputError(lock_path.string(), std::string("cannot open the lock file: ") + std::strerror(err));
  }
  const int op = mode == Mode::Exclusive ? LOCK_EX : LOCK_SH;
  while (::flock(fd_, op) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw InputError(lock_path.string(), std::string("cannot lock: ") + std::strerror(err));
  }
}

BankFileLock::~BankFileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the lock
}

}  // namespace medport::pipelines::fewshot::detail
