// /openapi.json documents exactly the server's routes (every path and method, both ways), and
// schemathesis (pinned in tools/requirements-test.txt) fuzzes the running server from it for a
// bounded time: no 5xx, no crash.
#include <set>

#include "medport/server/server.hpp"
#include "medport/server/web_assets.hpp"
#include "server_test.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using medport::testing::PhantomRepository;
using medport::testing::ServerProcess;
using medport::testing::TempDir;

std::set<std::pair<std::string, std::string>> documented() {
  const auto* asset = medport::server::find_web_asset("openapi.json");
  EXPECT_NE(asset, nullptr);
  const auto doc = json::parse(std::string(reinterpret_cast<const char*>(asset->data), asset->size));
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& [path, item] : doc["paths"].items())
    for (const auto& [method, op] : item.items()) {
      std::string upper = method;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      out.emplace(upper, path);
    }
  return out;
}

TEST(ServerOpenApi, DocumentsEveryRouteAndNothingElse) {
  const auto docs = documented();
  std::set<std::pair<std::string, std::string>> routes;
  for (const auto& r : medport::server::route_list()) routes.insert(r);
  for (const auto& r : routes) EXPECT_TRUE(docs.count(r)) << r.first << " " << r.second << " is not in openapi.json";
  for (const auto& d : docs) EXPECT_TRUE(routes.count(d)) << d.first << " " << d.second << " is documented but not served";
}

TEST(ServerOpenApi, SchemathesisFindsNoServerError) {
  TempDir tmp;
  ServerProcess server({"--models", PhantomRepository::get().repository.string(), "--state-dir", (tmp / "state").string(),
                        "--threads", "1", "--queue", "64"});
  ASSERT_TRUE(server.running()) << server.log();
  const std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  const fs::path st = fs::path(MEDPORT_PYTHON).parent_path() / "schemathesis";
  if (!fs::exists(st)) GTEST_SKIP() << "schemathesis not installed beside " << MEDPORT_PYTHON << " (./setup.sh test)";
  const auto r = medport::testing::run_program(
      // Path parameters that reach the loaded model and a roomy client deadline come from the config;
      // unloadModel is left out because it takes the model away from every later case (by design).
      {"timeout", "600", st.string(), "--config-file", (medport::testing::source_dir() / "tools/serve/schemathesis.toml").string(),
       "run", base + "/openapi.json", "--checks", "not_a_server_error", "--max-examples", "25", "--workers", "1",
       "--suppress-health-check", "all", "--request-timeout", "60", "--seed", "20261205", "--exclude-operation-id", "unloadModel"});
  ASSERT_NE(r.exit_code, 124) << "schemathesis ran past its 600 s budget";
  EXPECT_EQ(r.exit_code, 0) << r.out.substr(r.out.size() > 8000 ? r.out.size() - 8000 : 0) << r.err;
  EXPECT_NE(r.out.find("passed"), std::string::npos) << r.out;
  // No request of the run got a 5xx (the server's own log says so, whatever schemathesis checked).
  EXPECT_EQ(server.log().find("\"status\":5"), std::string::npos);
  // The server is still alive and answers.
  EXPECT_EQ(server.client().Get("/v2/health/live")->status, 200) << server.log();
}

}  // namespace
