// ONNX Runtime's telemetry stays off (docs/PRIVACY.md): no /tmp/mat-debug-<pid>.log, no /tmp/.ses,
// no event cache or device id under $HOME, no network socket - for the CLI and for a program
// using the library, even when the environment asks for telemetry (ORT_DISABLE_TELEMETRY=0) and
// carries none of the CI markers that make ONNX Runtime keep quiet on its own.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "guarded_process.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/runtime/session.hpp"
#include "test_support.hpp"
#include "tiny_models.hpp"

namespace {

namespace fs = std::filesystem;
using medport::testing::GuardLimits;
using medport::testing::TempDir;

fs::path debug_log_of(int pid) { return "/tmp/mat-debug-" + std::to_string(pid) + ".log"; }

// The runtime's debug log of process `pid`, written since `since`: an older file of that name is
// another process's that had the same pid before (pids are reused; a stale log must not fail us).
bool wrote_debug_log(int pid, fs::file_time_type since) {
  std::error_code ec;
  const auto changed = fs::last_write_time(debug_log_of(pid), ec);
  return !ec && changed >= since;
}

// Everything below `root` except the entries listed.
std::vector<std::string> files_below(const fs::path& root, const std::vector<fs::path>& except) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    bool skip = false;
    for (const auto& e : except) skip = skip || entry.path() == e;
    if (!skip) found.push_back(entry.path().string());
  }
  return found;
}

struct Workspace {
  TempDir dir;
  fs::path home = dir / "home", tmp = dir / "tmp", work = dir / "work";
  Workspace() {
    fs::create_directories(home);
    fs::create_directories(tmp);
    fs::create_directories(work);
    medport::testing::write_tiny_add_one_model(work / "m.onnx");
    const std::vector<float> x{1, 2, 3};
    medport::ckpt::write_npz(work / "in.npz", {{"x", medport::Tensor::from_f32({3}, x)}});
  }
  // A user who never opted out, outside any CI.
  GuardLimits limits() const {
    GuardLimits l;
    for (const auto& name : medport::testing::telemetry_suppressing_variables()) l.env[name] = std::nullopt;
    l.env["ORT_DISABLE_TELEMETRY"] = "0";
    l.env["HOME"] = home.string();
    l.env["TMPDIR"] = tmp.string();
    l.env["XDG_CACHE_HOME"] = std::nullopt;
    return l;
  }
  std::vector<std::string> run_args() const {
    return {"run", (work / "m.onnx").string(), "--inputs", (work / "in.npz").string(), "-o", (work / "out.npz").string()};
  }
};

TEST(RuntimePrivacy, CliWritesNoTelemetryFiles) {
  Workspace ws;
  const auto started = fs::file_time_type::clock::now() - std::chrono::seconds(1);
  const auto r = medport::testing::run_medport_guarded(ws.run_args(), ws.limits());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(wrote_debug_log(r.pid, started)) << debug_log_of(r.pid);
  EXPECT_TRUE(files_below(ws.home, {}).empty()) << "files appeared under $HOME: " << files_below(ws.home, {})[0];
  EXPECT_TRUE(files_below(ws.tmp, {}).empty());
}

TEST(RuntimePrivacy, CliOpensNoSocketAndNoTelemetryFileUnderStrace) {
  Workspace ws;
  const fs::path trace = ws.dir / "strace.txt";
  std::vector<std::string> argv{"strace", "-f", "-e", "trace=file,network", "-o", trace.string(), MEDPORT_CLI};
  for (const auto& a : ws.run_args()) argv.push_back(a);
  auto limits = ws.limits();
  limits.address_space_bytes = 0;
  const auto r = medport::testing::run_guarded(argv, limits);
  if (r.exit_code == 127 || !fs::exists(trace)) GTEST_SKIP() << "strace is not installed (apt-get install strace)";
  if (r.exit_code != 0 && r.err.find("ptrace") != std::string::npos) GTEST_SKIP() << "strace cannot trace here: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream in(trace);
  std::string line;
  int syscalls = 0;
  while (std::getline(in, line)) {
    ++syscalls;
    for (const char* forbidden : {"socket(", "connect(", "mat-debug", "/.ses", "onnxruntime.db", "deviceid"})
      EXPECT_EQ(line.find(forbidden), std::string::npos) << line;
  }
  EXPECT_GT(syscalls, 10) << "the trace is empty: strace did not record the run";
}

// A program using the library directly (no CLI) gets the same: the session code latches the
// switch before it creates the runtime's environment.
TEST(RuntimePrivacy, LibrarySessionWritesNoTelemetryFiles) {
  Workspace ws;
  const auto started = fs::file_time_type::clock::now() - std::chrono::seconds(1);
  const auto child = [&] {
    for (const auto& name : medport::testing::telemetry_suppressing_variables()) ::unsetenv(name.c_str());
    ::setenv("ORT_DISABLE_TELEMETRY", "0", 1);
    ::setenv("HOME", ws.home.c_str(), 1);
    const std::string bytes = medport::testing::tiny_add_one_model();
    medport::runtime::Session session(std::as_bytes(std::span(bytes.data(), bytes.size())));
    const std::vector<float> x{1.0f};
    session.run({{"x", medport::Tensor::from_f32({1}, x)}});
    const bool clean = !wrote_debug_log(::getpid(), started) && fs::is_empty(ws.home);
    std::exit(clean ? 0 : 1);
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
