#include "test_support.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

extern char** environ;

namespace medport::testing {

fs::path fixtures_dir() {
  if (const char* env = std::getenv("MEDPORT_FIXTURES"); env && *env) return env;
  return MEDPORT_FIXTURES;
}

fs::path source_dir() { return MEDPORT_SOURCE_DIR; }

fs::path fixture(const std::string& relative) {
  const fs::path p = fixtures_dir() / relative;
  return fs::exists(p) ? p : fs::path{};
}

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto candidate = fs::temp_directory_path() / ("medport_test_" + std::to_string(rd()));
    if (fs::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json(const fs::path& p) { return nlohmann::json::parse(read_text(p)); }

CommandResult run_program(const std::vector<std::string>& args) {
  TempDir tmp;
  const auto out_path = tmp / "stdout", err_path = tmp / "stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  CommandResult result;
  if (posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    result.err = "cannot start " + args.front();
    return result;
  }
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_text(out_path);
  result.err = read_text(err_path);
  return result;
}

CommandResult run_medport(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MEDPORT_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

nlohmann::json sidecar_envelope(const std::string& family, const nlohmann::json& section, const std::string& file) {
  return {{"schema", "medport.sidecar"},
          {"schema_version", 2},
          {"family", family},
          {"variant", "test"},
          {"medport_version", "test"},
          {"format", "onnx"},
          {"precision", "fp32"},
          {"opset", 17},
          {"checkpoint", {{"path", "none"}, {"sha256", ""}}},
          {"graphs", {{{"name", "model"}, {"file", file}, {"precision", "fp32"}, {"inputs", nlohmann::json::array()},
                       {"outputs", nlohmann::json::array()}}}},
          {family, section}};
}

CommandResult make_engine_failure_model(const fs::path& src, const fs::path& dst, const std::string& input, double limit) {
  const fs::path script = source_dir() / "tests" / "python" / "engine_failure_trap.py";
  return run_program({MEDPORT_PYTHON, script.string(), src.string(), dst.string(), input, std::to_string(limit)});
}

}  // namespace medport::testing
