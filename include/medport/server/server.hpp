#pragma once
// `medport serve`: the HTTP front end over the library pipelines (docs/SERVE.md).
//
//   medport::server::ServerOptions options;
//   options.models = "repo";                 // Triton layout, e.g. from `medport export`
//   medport::server::Server server(options);  // loads the models, checks the options
//   int port = server.bind();                 // options.port, or any free port when 0
//   std::thread t([&] { server.serve(); });   // until shutdown()
//   server.shutdown();                        // refuse new requests, finish in-flight ones, stop
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "medport/runtime/session.hpp"

namespace medport::server {

struct ServerOptions {
  std::filesystem::path models;       // the model repository
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (tests)
  std::filesystem::path token_file;   // empty: no tokens, loopback peers only
  std::filesystem::path tls_cert, tls_key;
  std::size_t max_body_bytes = std::size_t{64} << 20;
  std::size_t workers = 2;            // requests computing at once
  std::size_t queue = 32;             // requests waiting for a worker before 429
  std::chrono::milliseconds deadline{120000};  // per request (queue wait + work)
  int read_timeout_s = 30;            // per socket read (slow uploads)
  runtime::SessionOptions session;    // provider, device, threads per Run
  std::filesystem::path state_dir;    // few-shot memory banks (default: REPOSITORY/../medport-state)
  std::filesystem::path audit_log;    // JSON lines; empty: STATE_DIR/audit.jsonl; "-": none
  std::size_t job_workers = 1;
  std::size_t max_jobs = 8;
  std::chrono::seconds job_ttl{3600};
  std::chrono::seconds drain_timeout{30};
};

class Server {
 public:
  // Checks the options (UsageError: e.g. a non-loopback host without a token file, half a TLS
  // pair), reads the token file, opens the audit log and loads the repository's models.
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int bind();     // the bound port; UsageError when the address cannot be bound
  void serve();   // blocks until shutdown() has finished
  // Graceful stop: new requests get 503, queued and running ones finish (at most drain_timeout),
  // jobs are cancelled, then the listener stops. Safe to call from any thread, more than once.
  void shutdown();
  bool tls() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Every (method, path template) the server answers, e.g. {"POST", "/v2/models/{name}/infer"}:
// what /openapi.json must document.
std::vector<std::pair<std::string, std::string>> route_list();

// Runs a server until SIGTERM or SIGINT, then shuts it down gracefully. Returns the exit code.
int serve_until_signal(const ServerOptions& options);

}  // namespace medport::server
