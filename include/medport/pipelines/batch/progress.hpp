#pragma once
// Batch progress on stderr: a redrawn bar with rate and ETA on a terminal, plain lines otherwise.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace medport::pipelines::batch {

class BatchProgress {
 public:
  BatchProgress(std::size_t total_cases, bool terminal, std::FILE* stream = stderr);
  // A case finished (ok or failed) or was skipped; `note` is shown on plain-line output.
  void case_done(const std::string& case_name, const std::string& note);
  // Network evaluations inside the current case (redraws the bar on a terminal only).
  void tile_progress(std::int64_t done, std::int64_t total);
  void finish();

 private:
  void draw(double case_fraction);
  std::size_t total_;
  std::size_t done_ = 0;
  bool terminal_;
  std::FILE* stream_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// "1m05s", "12.3s".
std::string format_duration(double seconds);

}  // namespace medport::pipelines::batch
