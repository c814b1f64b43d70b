// `medport serve --models DIR`: the HTTP server (Open Inference Protocol v2, task endpoints, the
// browser viewer) over a Triton-layout model repository; `medport serve --hash-token` prints the
// line a token file stores for a token read from stdin.
#include <cstdio>
#include <iostream>

#include "command.hpp"
#include "medport/error.hpp"
#include "medport/runtime/session.hpp"
#include "medport/server/auth.hpp"
#include "medport/server/server.hpp"

namespace {

struct ServeArgs {
  std::string models, host = "127.0.0.1", token_file, tls_cert, tls_key, provider = "cpu", state_dir, audit_log;
  int port = 8080, threads = 0, deadline_s = 120, job_workers = 1, max_jobs = 8, job_ttl_s = 3600, drain_s = 30;
  int device = 0;
  std::size_t max_body_mb = 64, workers = 2, queue = 32;
  bool hash_token = false;
};

int hash_token() {
  std::string token;
  std::getline(std::cin, token);
  if (token.empty()) throw medport::UsageError("--hash-token reads the token from stdin (one line)");
  std::printf("%s\n", medport::server::hash_token_line(token).c_str());
  return 0;
}

int run(const ServeArgs& a) {
  if (a.hash_token) return hash_token();
  if (a.models.empty()) throw medport::UsageError("--models DIR is required");
  medport::server::ServerOptions o;
  o.models = a.models;
  o.host = a.host;
  o.port = a.port;
  o.token_file = a.token_file;
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
  o.max_body_bytes = a.max_body_mb << 20;
  o.workers = a.workers;
  o.queue = a.queue;
  o.deadline = std::chrono::seconds(a.deadline_s);
  o.session = medport::runtime::session_options_from_flags(a.threads, a.provider);
  o.session.cuda_device = a.device;
  o.state_dir = a.state_dir;
  o.audit_log = a.audit_log;
  o.job_workers = static_cast<std::size_t>(a.job_workers);
  o.max_jobs = static_cast<std::size_t>(a.max_jobs);
  o.job_ttl = std::chrono::seconds(a.job_ttl_s);
  o.drain_timeout = std::chrono::seconds(a.drain_s);
  return medport::server::serve_until_signal(o);
}

medport::cli::Runner setup(CLI::App& root) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = root.add_subcommand("serve", "HTTP inference server: Open Inference Protocol v2, task endpoints, browser viewer (docs/SERVE.md)");
  cmd->add_option("--models", a->models, "model repository in Triton's layout (medport export --format triton)");
  cmd->add_option("--host", a->host, "address to listen on (non-loopback needs --token-file)");
  cmd->add_option("--port", a->port, "TCP port (0: any free port, printed in the `listening` log line)")->check(CLI::Range(0, 65535));
  cmd->add_option("--token-file", a->token_file, "bearer tokens, one `ID sha256:HEX` per line (without: loopback clients only)");
  cmd->add_option("--tls-cert", a->tls_cert, "PEM certificate (chain) for HTTPS");
  cmd->add_option("--tls-key", a->tls_key, "PEM private key for HTTPS");
  cmd->add_option("--max-body-mb", a->max_body_mb, "largest request body (413 above)")->check(CLI::Range(1, 4096));
  cmd->add_option("--workers", a->workers, "requests computing at once")->check(CLI::Range(1, 256));
  cmd->add_option("--queue", a->queue, "requests waiting for a worker before 429")->check(CLI::Range(0, 4096));
  cmd->add_option("--deadline-s", a->deadline_s, "per-request deadline: queue wait and work (504 after)")->check(CLI::Range(1, 86400));
  cmd->add_option("--threads", a->threads, "intra-op threads per Run (0: ONNX Runtime default)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--provider", a->provider, "execution provider")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--device", a->device, "CUDA device id with --provider cuda")->check(CLI::Range(0, 64));
  cmd->add_option("--state-dir", a->state_dir, "few-shot memory banks and the audit log (default: medport-state beside the repository)");
  cmd->add_option("--audit-log", a->audit_log, "audit log file (JSON lines; default STATE_DIR/audit.jsonl; - for none)");
  cmd->add_option("--job-workers", a->job_workers, "sample/inpaint jobs running at once")->check(CLI::Range(1, 64));
  cmd->add_option("--max-jobs", a->max_jobs, "jobs queued or running before 429")->check(CLI::Range(1, 4096));
  cmd->add_option("--job-ttl-s", a->job_ttl_s, "seconds a finished job's result is kept")->check(CLI::Range(1, 604800));
  cmd->add_option("--drain-s", a->drain_s, "seconds SIGTERM waits for in-flight requests")->check(CLI::Range(0, 3600));
  cmd->add_flag("--hash-token", a->hash_token, "read a token from stdin and print its token-file line (sha256:HEX)");
  return [a] { return run(*a); };
}

}  // namespace
MEDPORT_COMMAND(setup);
