#include "guarded_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "test_support.hpp"

extern char** environ;

namespace medport::testing {

namespace {

std::vector<std::string> child_environment(const GuardLimits& limits) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) vars[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [name, value] : limits.env) {
    if (value) vars[name] = *value;
    else vars.erase(name);
  }
  std::vector<std::string> out;
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

}  // namespace

GuardedResult run_guarded(const std::vector<std::string>& argv, const GuardLimits& limits) {
  TempDir capture;
  const auto out_path = capture / "stdout", err_path = capture / "stderr";
  const std::vector<std::string> env_strings = child_environment(limits);
  std::vector<char*> env_ptrs, arg_ptrs;
  for (const auto& e : env_strings) env_ptrs.push_back(const_cast<char*>(e.c_str()));
  env_ptrs.push_back(nullptr);
  for (const auto& a : argv) arg_ptrs.push_back(const_cast<char*>(a.c_str()));
  arg_ptrs.push_back(nullptr);

  GuardedResult result;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.err = "fork failed";
    return result;
  }
  if (pid == 0) {  // child: only async-signal-safe calls from here on
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (!limits.cwd.empty() && ::chdir(limits.cwd.c_str()) != 0) ::_exit(126);
    if (limits.file_size_bytes > 0) {
      const rlimit cap{limits.file_size_bytes, limits.file_size_bytes};
      ::setrlimit(RLIMIT_FSIZE, &cap);
      ::signal(SIGXFSZ, SIG_IGN);  // stays ignored across exec: write() returns EFBIG instead
    }
    if (limits.address_space_bytes > 0) {
      const rlimit cap{limits.address_space_bytes, limits.address_space_bytes};
      ::setrlimit(RLIMIT_AS, &cap);
    }
    ::execvpe(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  result.pid = pid;
  int status = 0;
  rusage usage{};
  for (;;) {
    const pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() - start > limits.wall) {
      ::kill(pid, SIGKILL);
      ::wait4(pid, &status, 0, &usage);
      result.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.peak_rss_kb = usage.ru_maxrss;
  result.out = read_text(out_path);
  result.err = read_text(err_path);
  return result;
}

GuardedResult run_medport_guarded(const std::vector<std::string>& args, const GuardLimits& limits) {
  std::vector<std::string> argv{MEDPORT_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_guarded(argv, limits);
}

std::vector<std::string> telemetry_suppressing_variables() {
  return {"CI",        "TF_BUILD",         "GITHUB_ACTIONS", "GITLAB_CI",  "CIRCLECI",
          "TRAVIS",    "JENKINS_URL",      "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION",
          "APPVEYOR",  "BITBUCKET_BUILD_NUMBER", "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI",
          "ORT_RUNNING_UNIT_TESTS", "ORT_TELEMETRY_DISABLED"};
}

}  // namespace medport::testing
