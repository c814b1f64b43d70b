#pragma once
// What a batch command (`medport segment`, `medport fewshot`) says on stderr while its batch
// runs: a line per case as it ends (BatchProgress: with a redrawn bar on a terminal), and, when
// an engine failure stops the batch, how many cases were finished before it. The failed cases'
// messages are kept for the closing summary. Safe to call from two threads at once (segment
// reports tiles from its network thread and cases from its writer thread).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "medport/pipelines/batch/progress.hpp"
#include "medport/pipelines/batch/report.hpp"

namespace medport::pipelines::batch {

class BatchConsole {
 public:
  // `command` names the batch in the stop note ("segment: batch stopped by ...").
  BatchConsole(std::string command, std::size_t cases, bool terminal, std::FILE* stream = stderr);

  // The case's line: "already done, skipped", "FAILED: <message>", or "done in 1.23 s" followed
  // by `done_note` (e.g. " (quality check failed)").
  void case_done(const CaseReport& report, const std::string& done_note = {});
  // Network evaluations inside the current case (the bar on a terminal).
  void tile_progress(std::int64_t done, std::int64_t total);

  // Runs `batch` and ends the progress display; returns its wall seconds. When `batch` throws an
  // EngineError, says that the batch stopped and that the cases finished before it are complete
  // in `output_dir`, then rethrows.
  double run(const std::filesystem::path& output_dir, const std::function<void()>& batch);

  // The messages of the failed cases, in the order they were reported.
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  std::string command_;
  std::FILE* stream_;
  BatchProgress progress_;
  std::mutex mutex_;
  std::size_t finished_ = 0;
  std::vector<std::string> failures_;
};

}  // namespace medport::pipelines::batch
