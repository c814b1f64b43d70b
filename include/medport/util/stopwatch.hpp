#pragma once
// Wall time since construction (steady clock), for the timings pipelines report.
#include <chrono>

namespace medport {

class Stopwatch {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace medport
