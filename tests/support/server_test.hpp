#pragma once
// Test set-up shared by the server tests: the embedded phantom model converted and exported into a
// Triton-layout repository once per process, the server run in this process on a free loopback
// port (LocalServer) or as `medport serve` in a child process (its port read from the
// `listening` log line), and HTTP clients for them.
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "medport/pipelines/convert.hpp"
#include "medport/server/server.hpp"
#include "medport/triton/export.hpp"
#include "test_support.hpp"

extern char** environ;

namespace medport::testing {

// models/phantom2d converted (fp32 ONNX + sidecar) and exported as REPO/phantom2d; built once.
struct PhantomRepository {
  TempDir dir;
  fs::path onnx, repository;
  PhantomRepository() {
    onnx = dir / "phantom2d.onnx";
    pipelines::ConvertRequest convert;
    convert.source = source_dir() / "models" / "phantom2d";
    convert.output = onnx;
    pipelines::convert(convert);
    repository = dir / "repo";
    triton::ExportRequest r;
    r.sources = {onnx};
    r.output = repository;
    triton::export_repository(r);
  }
  static PhantomRepository& get() {
    static PhantomRepository instance;
    return instance;
  }
};

// A client of the server listening on loopback `port`.
inline httplib::Client loopback_client(int port, std::chrono::seconds read_timeout = std::chrono::seconds(120)) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(read_timeout.count(), 0);
  return c;
}

// Options of an in-process server of `models` on a free port, its state in `state_dir`, one
// intra-op thread per session.
inline server::ServerOptions local_server_options(const fs::path& models, const fs::path& state_dir) {
  server::ServerOptions o;
  o.models = models;
  o.port = 0;
  o.state_dir = state_dir;
  o.session.intra_op_threads = 1;
  return o;
}

// The server in this process, bound to a free port and serving on a thread of its own; shut down
// (in-flight requests finished) and joined when it goes.
class LocalServer {
 public:
  explicit LocalServer(server::ServerOptions options) : server_(std::move(options)) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.serve(); });
  }
  ~LocalServer() {
    server_.shutdown();
    thread_.join();
  }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;
  int port() const { return port_; }
  httplib::Client client(std::chrono::seconds read_timeout = std::chrono::seconds(120)) const {
    return loopback_client(port_, read_timeout);
  }

 private:
  server::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// `medport serve ARGS --port 0` as a child process; killed (SIGKILL) if still running at the end.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args, std::chrono::seconds wait = std::chrono::seconds(60)) {
    log_ = tmp_ / "serve.log";
    std::vector<std::string> argv{MEDPORT_CLI, "serve", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    if (posix_spawn(&pid_, MEDPORT_CLI, &actions, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    const auto until = std::chrono::steady_clock::now() + wait;
    static const std::regex listening("\"event\":\"listening\".*\"port\":([0-9]+)");
    while (pid_ > 0 && std::chrono::steady_clock::now() < until) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, listening)) {
        port_ = std::stoi(m[1]);
        break;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool running() const { return port_ > 0; }
  int port() const { return port_; }
  std::string log() const { return read_text(log_); }
  httplib::Client client() const { return loopback_client(port_); }
  // Sends SIGTERM and waits for the exit code (-1 on timeout).
  int terminate(std::chrono::seconds wait = std::chrono::seconds(60)) {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  TempDir tmp_;
  fs::path log_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
};

}  // namespace medport::testing
