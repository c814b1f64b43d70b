#pragma once
// Helpers shared by the test executables: fixture lookup, temporary folders, running the CLI.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace medport::testing {

namespace fs = std::filesystem;

// ../shared/fixtures (or MEDPORT_FIXTURES from the environment).
fs::path fixtures_dir();
fs::path source_dir();
// Path of a fixture; empty when the fixtures folder or the file is absent.
fs::path fixture(const std::string& relative);

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Whole file as text / parsed as JSON (empty string when the file cannot be read).
std::string read_text(const fs::path& path);
nlohmann::json read_json(const fs::path& path);
// A schema-2 sidecar (models/sidecar.hpp) around a family's section, for models built by tests:
// one graph "model" in `file`, inputs/outputs left empty.
nlohmann::json sidecar_envelope(const std::string& family, const nlohmann::json& section, const std::string& file);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs the built `medport` binary with the arguments (no shell involved).
CommandResult run_medport(const std::vector<std::string>& args);
// Runs any program (argv[0] looked up in PATH) and captures its output.
CommandResult run_program(const std::vector<std::string>& argv);

// tests/python/engine_failure_trap.py: writes at `dst` a copy of the ONNX model `src` whose
// Run() fails inside ONNX Runtime (an EngineError in medport) whenever its input `input` holds a
// value above `limit`, and computes the same as `src` otherwise.
CommandResult make_engine_failure_model(const fs::path& src, const fs::path& dst, const std::string& input, double limit);

}  // namespace medport::testing

// Skips the current test when a fixture is missing; binds `var` to its path otherwise.
#define MEDPORT_FIXTURE_OR_SKIP(var, relative)                                           \
  const auto var = ::medport::testing::fixture(relative);                                \
  if (var.empty()) GTEST_SKIP() << "fixture " << (relative) << " not found under "       \
                                << ::medport::testing::fixtures_dir()

// make_engine_failure_model into `dst`, skipping the test when Python's onnx package is missing.
#define MEDPORT_ENGINE_FAILURE_MODEL_OR_SKIP(src, dst, input, limit)                                     \
  do {                                                                                                  \
    const auto trap_ = ::medport::testing::make_engine_failure_model(src, dst, input, limit);           \
    if (trap_.exit_code != 0 && trap_.err.find("No module named") != std::string::npos)                  \
      GTEST_SKIP() << "Python module not available: " << trap_.err;                                     \
    if (trap_.exit_code == -1) GTEST_SKIP() << "cannot run " << MEDPORT_PYTHON;                          \
    ASSERT_EQ(trap_.exit_code, 0) << trap_.err;                                                         \
  } while (false)

// Runs `MEDPORT_PYTHON -c SCRIPT ARGS...` (the test venv, else /usr/bin/python3) into `result`; skips the test when Python or one of
// the modules the script imports is missing, fails it on any other error.
#define MEDPORT_RUN_PYTHON_OR_SKIP(result, script, ...)                                                      \
  const auto result = ::medport::testing::run_program({MEDPORT_PYTHON, "-c", script, __VA_ARGS__});        \
  if (result.exit_code != 0 && result.err.find("No module named") != std::string::npos)                     \
    GTEST_SKIP() << "Python module not available: " << result.err;                                          \
  if (result.exit_code == -1) GTEST_SKIP() << "cannot run " << MEDPORT_PYTHON;                               \
  ASSERT_EQ(result.exit_code, 0) << result.err
