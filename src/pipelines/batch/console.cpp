#include "medport/pipelines/batch/console.hpp"

#include <chrono>

#include "medport/error.hpp"

namespace medport::pipelines::batch {

BatchConsole::BatchConsole(std::string command, std::size_t cases, bool terminal, std::FILE* stream)
    : command_(std::move(command)), stream_(stream), progress_(cases, terminal, stream) {}

void BatchConsole::case_done(const CaseReport& report, const std::string& done_note) {
  std::lock_guard lock(mutex_);
  using Status = CaseReport::Status;
  if (report.status == Status::Skipped) {
    progress_.case_done(report.case_name, "already done, skipped");
  } else if (report.status == Status::Failed) {
    failures_.push_back(report.message);
    progress_.case_done(report.case_name, "FAILED: " + report.message);
  } else {
    ++finished_;
    char seconds[64];
    std::snprintf(seconds, sizeof seconds, "done in %.2f s", report.seconds);
    progress_.case_done(report.case_name, seconds + done_note);
  }
}

void BatchConsole::tile_progress(std::int64_t done, std::int64_t total) {
  std::lock_guard lock(mutex_);
  progress_.tile_progress(done, total);
}

double BatchConsole::run(const std::filesystem::path& output_dir, const std::function<void()>& batch) {
  const auto start = std::chrono::steady_clock::now();
  try {
    batch();
  } catch (const EngineError&) {
    progress_.finish();
    std::fprintf(stream_, "%s: batch stopped by an engine failure; the %zu case(s) finished before it are complete in %s\n",
                 command_.c_str(), finished_, output_dir.c_str());
    throw;
  }
  progress_.finish();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace medport::pipelines::batch
