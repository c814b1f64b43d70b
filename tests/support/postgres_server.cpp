#include "postgres_server.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace medport::testing {
namespace {

fs::path postgres_bin(const std::string& tool) {
  for (const char* dir : {"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin",
                          "/usr/lib/postgresql/14/bin", "/usr/local/bin", "/usr/bin"})
    if (fs::exists(fs::path(dir) / tool)) return fs::path(dir) / tool;
  return {};
}

}  // namespace

PostgresServer::PostgresServer() {
  initdb_ = postgres_bin("initdb");
  pg_ctl_ = postgres_bin("pg_ctl");
  if (initdb_.empty() || pg_ctl_.empty()) {
    why_ = "PostgreSQL server binaries (initdb, pg_ctl) not installed";
    return;
  }
  char pattern[] = "/tmp/medport_pg_XXXXXX";
  if (!::mkdtemp(pattern)) {
    why_ = "cannot create a temp folder";
    return;
  }
  root_ = pattern;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (!pw) {
      why_ = "running as root and there is no 'postgres' user to run the server";
      return;
    }
    if (::chown(root_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      why_ = "cannot hand the temp folder to the postgres user";
      return;
    }
    as_user_ = {"runuser", "-u", "postgres", "--"};
  }
  auto r = run(initdb_, {"-D", (root_ / "data").string(), "-U", "medport", "-A", "trust", "--no-sync", "-E", "UTF8"});
  if (r.exit_code != 0) {
    why_ = "initdb failed: " + r.out + r.err;
    return;
  }
  r = run(pg_ctl_, {"-D", (root_ / "data").string(), "-w", "-l", (root_ / "server.log").string(), "-o",
                    "-k " + root_.string() + " -c listen_addresses= -p 5432 -F", "start"});
  if (r.exit_code != 0) {
    why_ = "pg_ctl start failed: " + r.out + r.err + read_text(root_ / "server.log");
    return;
  }
  running_ = true;
}

PostgresServer::~PostgresServer() {
  if (running_) run(pg_ctl_, {"-D", (root_ / "data").string(), "-m", "immediate", "-w", "stop"});
  std::error_code ec;
  if (!root_.empty()) fs::remove_all(root_, ec);
}

std::string PostgresServer::url(const std::string& bank) const {
  return "postgresql:///postgres?host=" + root_.string() + "&port=5432&user=medport#" + bank;
}

CommandResult PostgresServer::run(const fs::path& tool, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = as_user_;
  argv.push_back(tool.string());
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

PostgresServer& postgres_server() {
  static PostgresServer server;
  return server;
}

}  // namespace medport::testing
