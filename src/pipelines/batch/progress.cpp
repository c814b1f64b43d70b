#include "medport/pipelines/batch/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "medport/util/printable.hpp"

namespace medport::pipelines::batch {

std::string format_duration(double seconds) {
  char buf[32];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(seconds) / 3600, static_cast<int>(seconds) / 60 % 60);
  }
  return buf;
}

BatchProgress::BatchProgress(std::size_t total_cases, bool terminal, std::FILE* stream)
    : total_(total_cases), terminal_(terminal), stream_(stream), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void BatchProgress::case_done(const std::string& case_name, const std::string& note) {
  ++done_;
  const std::string name = printable(case_name);  // a non-UTF-8 or escape-laden file name stays inert
  if (terminal_) {
    std::fprintf(stream_, "\r\033[K%s: %s\n", name.c_str(), note.c_str());
    draw(0.0);
  } else {
    std::fprintf(stream_, "[%zu/%zu] %s: %s\n", done_, total_, name.c_str(), note.c_str());
  }
  std::fflush(stream_);
}

void BatchProgress::tile_progress(std::int64_t done, std::int64_t total) {
  if (!terminal_ || total <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  draw(static_cast<double>(done) / static_cast<double>(total));
}

void BatchProgress::draw(double case_fraction) {
  last_draw_ = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  const double progress = std::min(static_cast<double>(total_), static_cast<double>(done_) + case_fraction);
  const double fraction = total_ ? progress / static_cast<double>(total_) : 1.0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const double rate = elapsed > 0 ? progress / elapsed : 0.0;
  const std::string eta = rate > 0 ? format_duration((static_cast<double>(total_) - progress) / rate) : "?";
  std::fprintf(stream_, "\r\033[K[%s] %zu/%zu cases  %.2f cases/s  ETA %s", bar.c_str(), done_, total_, rate,
               eta.c_str());
  std::fflush(stream_);
}

void BatchProgress::finish() {
  if (terminal_) std::fprintf(stream_, "\r\033[K");
  std::fflush(stream_);
}

}  // namespace medport::pipelines::batch
