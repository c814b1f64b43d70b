#pragma once
// A throw-away PostgreSQL server for the tests: initdb + pg_ctl in a temp folder, listening on a
// unix socket only. initdb refuses to run as root, so as root the server runs as the "postgres"
// user (Debian's package creates it). Tests skip (POSTGRES_OR_SKIP) when PostgreSQL is absent.
#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace medport::testing {

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  bool running() const { return running_; }
  const std::string& why() const { return why_; }  // why it is not running
  // postgresql:///postgres?host=<socket folder>&port=5432&user=medport#<bank>
  std::string url(const std::string& bank) const;

 private:
  CommandResult run(const std::filesystem::path& tool, const std::vector<std::string>& args) const;
  std::filesystem::path initdb_, pg_ctl_, root_;
  std::vector<std::string> as_user_;
  std::string why_;
  bool running_ = false;
};

// One server per test executable, started on first use.
PostgresServer& postgres_server();

}  // namespace medport::testing

#define POSTGRES_OR_SKIP() \
  if (!::medport::testing::postgres_server().running()) GTEST_SKIP() << ::medport::testing::postgres_server().why()
