#pragma once
// What every robustness case asserts about a run of the CLI on a hostile input: the documented
// exit code, a message naming the file, one short escaped line per error, a bounded run time
// and peak memory, and nothing left behind.
#include <filesystem>
#include <string>
#include <vector>

#include "guarded_process.hpp"

namespace medport::testing {

struct Expectation {
  int exit_code = 3;
  std::string names;    // a substring the error must contain (usually the file name)
  std::string reason;   // and a word of the reason ("pixdim", "truncated", ...)
  double max_seconds = 20.0;
  long max_rss_mb = 1024;
};

// Limits every robustness run gets: 60 s wall clock, 8 GiB of address space.
GuardLimits robustness_limits();

// Checks `r` against `e`; `what` names the case in failure messages.
void expect_outcome(const GuardedResult& r, const Expectation& e, const std::string& what);

// Every path below `root` (files and folders), for "nothing left behind" checks.
std::vector<std::string> everything_below(const std::filesystem::path& root);
// Paths below `root` that are temporaries of AtomicFile / AtomicFolder.
std::vector<std::string> temporaries_below(const std::filesystem::path& root);

// The embedded nnU-Net model (models/phantom2d) converted once per test program.
std::filesystem::path phantom_model_onnx();

}  // namespace medport::testing
