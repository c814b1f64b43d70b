#pragma once
// An advisory flock on "<path>.lock", held for the object's lifetime. flock locks belong to the
// open file description, so two threads of one process exclude each other as two processes do.
#include <filesystem>

namespace medport::pipelines::fewshot::detail {

class BankFileLock {
 public:
  enum class Mode { Shared, Exclusive };
  // Exclusive: the lock file must be creatable (InputError otherwise). Shared: when the folder is
  // read-only the lock is skipped - renames alone keep readers from seeing torn files.
  BankFileLock(const std::filesystem::path& bank_path, Mode mode);
  ~BankFileLock();
  BankFileLock(const BankFileLock&) = delete;
  BankFileLock& operator=(const BankFileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace medport::pipelines::fewshot::detail
