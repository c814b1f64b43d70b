#include "medport/util/output_paths.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "medport/error.hpp"

namespace medport {

namespace fs = std::filesystem;

namespace {

void create_folder(const fs::path& folder) {
  std::error_code ec;
  if (fs::exists(fs::symlink_status(folder, ec)) && !fs::is_directory(folder, ec))
    throw InputError(folder.string(), "is not a folder");
  fs::create_directories(folder, ec);
  if (ec) throw InputError(folder.string(), "cannot create the output folder: " + ec.message());
  if (!fs::is_directory(folder, ec)) throw InputError(folder.string(), "is not a folder");
}

void probe(const fs::path& folder, const std::string& named) {
  std::string tmpl = (folder / ".medport-write-check.tmp-XXXXXX").string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw InputError(named, std::string("cannot write here: ") + std::strerror(errno));
  ::close(fd);
  ::unlink(tmpl.c_str());
}

bool is_temp_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

}  // namespace

void check_output_file_writable(const fs::path& file) {
  if (file.empty()) throw UsageError("the output file name is empty");
  std::error_code ec;
  if (fs::is_directory(file, ec)) throw InputError(file.string(), "is a folder, expected a file name");
  const auto type = fs::symlink_status(file, ec).type();
  if (!ec && type != fs::file_type::regular && type != fs::file_type::symlink && type != fs::file_type::not_found)
    throw InputError(file.string(), "is not a regular file (a device, FIFO or socket); medport writes only regular files");
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  create_folder(folder);
  probe(folder, file.string());
}

void check_output_folder_writable(const fs::path& folder) {
  if (folder.empty()) throw UsageError("the output folder name is empty");
  create_folder(folder);
  probe(folder, folder.string());
}

bool is_atomic_temporary_name(std::string_view name) {
  if (name.size() < 13 || name[0] != '.') return false;
  for (auto at = name.find(".tmp-", 1); at != std::string_view::npos; at = name.find(".tmp-", at + 1)) {
    if (at + 5 + 6 > name.size()) return false;
    bool random = true;
    for (std::size_t i = at + 5; i < at + 11; ++i) random = random && is_temp_char(name[i]);
    if (random) return true;
  }
  return false;
}

std::size_t remove_stale_temporaries(const fs::path& folder, std::chrono::minutes min_age) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return 0;
  const auto now = fs::file_time_type::clock::now();
  std::size_t removed = 0;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (!is_atomic_temporary_name(entry.path().filename().string())) continue;
    std::error_code item_ec;
    const auto changed = fs::symlink_status(entry.path(), item_ec).type() == fs::file_type::symlink
                             ? now
                             : fs::last_write_time(entry.path(), item_ec);
    if (item_ec || now - changed < min_age) continue;
    if (fs::remove_all(entry.path(), item_ec) > 0 && !item_ec) ++removed;
  }
  return removed;
}

AtomicFolder::AtomicFolder(fs::path destination) : destination_(std::move(destination)) {
  const fs::path parent = destination_.has_parent_path() ? destination_.parent_path() : fs::path(".");
  create_folder(parent);
  std::string tmpl = (parent / ("." + destination_.filename().string() + ".tmp-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw InputError(destination_.string(), std::string("cannot create a temporary folder: ") + std::strerror(errno));
  temp_ = tmpl;
}

AtomicFolder::~AtomicFolder() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(temp_, ec);
}

void AtomicFolder::commit() {
  ::chmod(temp_.c_str(), 0755);  // mkdtemp makes it 0700
  if (::rename(temp_.c_str(), destination_.c_str()) == 0) {
    committed_ = true;
    return;
  }
  if (errno != ENOTEMPTY && errno != EEXIST)
    throw InputError(destination_.string(), std::string("cannot move the finished folder into place: ") + std::strerror(errno));
  // An earlier run's folder: swap the two in one step, then remove the old one (now at temp_).
  if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, destination_.c_str(), RENAME_EXCHANGE) != 0)
    throw InputError(destination_.string(), std::string("cannot replace the existing folder: ") + std::strerror(errno));
  std::error_code ec;
  fs::remove_all(temp_, ec);
  committed_ = true;
}

}  // namespace medport
