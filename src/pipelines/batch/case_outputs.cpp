#include "medport/pipelines/batch/case_outputs.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "medport/error.hpp"

namespace medport::pipelines::batch {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStagingPrefix = ".medport-staging-";

fs::path new_staging_folder(const fs::path& output_dir) {
  static std::atomic<unsigned> counter{0};
  return output_dir / (std::string(kStagingPrefix) + std::to_string(::getpid()) + "-" + std::to_string(counter++));
}

[[noreturn]] void output_error(const fs::path& path, const std::error_code& ec, const char* doing) {
  throw InputError(path.string(), std::string("cannot ") + doing + ": " + ec.message());
}

}  // namespace

CaseOutputFiles::CaseOutputFiles(fs::path output_dir) : output_dir_(std::move(output_dir)) {
  std::error_code ec;
  fs::create_directories(output_dir_, ec);
  if (ec) output_error(output_dir_, ec, "create the output folder");
  staging_ = new_staging_folder(output_dir_);
  fs::remove_all(staging_, ec);
  fs::create_directory(staging_, ec);
  if (ec) output_error(output_dir_, ec, "write into the output folder");
}

CaseOutputFiles::~CaseOutputFiles() {
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

fs::path CaseOutputFiles::path(const std::string& file_name) const { return staging_ / file_name; }

std::vector<fs::path> CaseOutputFiles::commit(const std::string& done_marker_name) {
  if (committed_) throw std::logic_error("CaseOutputFiles::commit called twice");
  std::error_code ec;
  if (!fs::is_regular_file(staging_ / done_marker_name, ec))
    throw std::logic_error("CaseOutputFiles::commit: " + done_marker_name + " was not written");
  std::vector<std::string> order;
  for (const auto& e : fs::directory_iterator(staging_)) {
    const std::string name = e.path().filename().string();
    if (name != done_marker_name) order.push_back(name);
  }
  std::sort(order.begin(), order.end());
  order.push_back(done_marker_name);

  fs::remove(output_dir_ / done_marker_name, ec);  // from here on the case is not done
  if (ec) output_error(output_dir_ / done_marker_name, ec, "replace the case's report");
  std::vector<fs::path> moved;
  try {
    for (const auto& name : order) {
      const fs::path from = staging_ / name, to = output_dir_ / name;
      // A folder output (PNG slices) replaces an old folder; rename() replaces files by itself.
      if (fs::is_directory(from, ec) || fs::is_directory(to, ec)) fs::remove_all(to, ec);
      fs::rename(from, to, ec);
      if (ec) output_error(to, ec, "move the case's output into place");
      moved.push_back(to);
    }
  } catch (...) {
    for (const auto& p : moved) fs::remove_all(p, ec);
    throw;
  }
  committed_ = true;
  fs::remove_all(staging_, ec);
  return moved;
}

void remove_stale_staging(const fs::path& output_dir) {
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return;
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with(kStagingPrefix)) continue;
    const std::string rest = name.substr(kStagingPrefix.size());
    const auto dash = rest.find('-');
    long pid = 0;
    try {
      pid = std::stol(rest.substr(0, dash));
    } catch (const std::exception&) {
      continue;
    }
    if (pid <= 0 || pid == ::getpid()) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
}

}  // namespace medport::pipelines::batch
