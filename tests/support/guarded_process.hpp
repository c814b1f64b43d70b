#pragma once
// Runs a program the way the robustness tests need: a chosen environment, an address-space cap
// (RLIMIT_AS), a wall-clock limit after which it is killed, and its peak memory measured.
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace medport::testing {

struct GuardLimits {
  std::chrono::milliseconds wall{std::chrono::seconds(60)};
  std::size_t address_space_bytes = std::size_t{8} << 30;  // RLIMIT_AS of the child (0: none)
  // RLIMIT_FSIZE of the child (0: none): writes past it fail with EFBIG, like a full disk.
  std::size_t file_size_bytes = 0;
  // Variables set (value) or removed (nullopt) in the child's copy of this environment.
  std::map<std::string, std::optional<std::string>> env;
  std::filesystem::path cwd;  // empty: this process's working folder
};

struct GuardedResult {
  int exit_code = -1;  // 128 + signal when killed
  bool timed_out = false;
  double seconds = 0;
  long peak_rss_kb = 0;  // the child's maximum resident set size
  int pid = 0;
  std::string out, err;
};

GuardedResult run_guarded(const std::vector<std::string>& argv, const GuardLimits& limits = {});
// The built medport binary with these arguments.
GuardedResult run_medport_guarded(const std::vector<std::string>& args, const GuardLimits& limits = {});

// Variables that make ONNX Runtime suppress its telemetry by itself (CI markers and its test
// switch): removed in a child whose telemetry behaviour is under test.
std::vector<std::string> telemetry_suppressing_variables();

}  // namespace medport::testing
