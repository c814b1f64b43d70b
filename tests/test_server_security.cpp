// Security and limits of `medport serve`: bearer tokens stored hashed (401 without or with a
// wrong token, logged in the audit trail), loopback-only without tokens, TLS, the body limit
// (413), the bounded queue (429 + Retry-After), per-request deadlines (504).
#include <sys/stat.h>

#include <fstream>
#include <future>
#include <thread>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/server/auth.hpp"
#include "medport/server/server.hpp"
#include "server_test.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using medport::testing::LocalServer;
using medport::testing::PhantomRepository;
using medport::testing::TempDir;

medport::server::ServerOptions options(const TempDir& state) {
  return medport::testing::local_server_options(PhantomRepository::get().repository, state.path());
}

fs::path write_token_file(const TempDir& dir, mode_t mode) {
  const fs::path file = dir / "tokens";
  std::ofstream(file) << "# id sha256:hex\nalice " << medport::server::hash_token_line("s3cret-alice") << "\n"
                      << "bob " << medport::server::hash_token_line("s3cret-bob") << "\n";
  ::chmod(file.c_str(), mode);
  return file;
}

std::vector<json> audit_lines(const fs::path& file) {
  std::vector<json> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) out.push_back(json::parse(line));
  return out;
}

// A 2D phantom-like image large enough to keep a worker busy for a while.
std::string big_png(const TempDir& dir) {
  const auto r = medport::testing::run_medport({"phantom", "-o", (dir / "ph").string(), "--patients", "1", "--seed", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return medport::testing::read_text(dir / "ph" / "phantom0001" / "phantom0001_2CH_ED.png");
}

httplib::MultipartFormDataItems segment_form(const std::string& png) {
  return {{"image", png, "view.png", "image/png"}, {"spacing", "0.3,0.3", "", ""}};
}

TEST(ServerTokens, StoredHashedAndComparedOnIdentity) {
  TempDir dir;
  const auto store = medport::server::TokenStore::load(write_token_file(dir, 0600));
  EXPECT_EQ(store.size(), 2u);
  EXPECT_EQ(store.identify("s3cret-bob"), "bob");
  EXPECT_EQ(store.identify_header("Bearer s3cret-alice"), "alice");
  EXPECT_EQ(store.identify_header("bearer  s3cret-alice "), "alice");
  EXPECT_FALSE(store.identify("s3cret-carol"));
  EXPECT_FALSE(store.identify(""));
  EXPECT_FALSE(store.identify_header("Basic s3cret-alice"));
  // Nothing but the hash is in the file.
  EXPECT_EQ(medport::testing::read_text(dir / "tokens").find("s3cret"), std::string::npos);
}

TEST(ServerTokens, RefusesBadFiles) {
  TempDir dir;
  EXPECT_THROW(medport::server::TokenStore::load(write_token_file(dir, 0644)), medport::InputError);  // world-readable
  std::ofstream(dir / "plain") << "alice s3cret\n";
  ::chmod((dir / "plain").c_str(), 0600);
  EXPECT_THROW(medport::server::TokenStore::load(dir / "plain"), medport::InputError);  // not hashed
  std::ofstream(dir / "dup") << "a sha256:" << std::string(64, 'a') << "\na sha256:" << std::string(64, 'b') << "\n";
  ::chmod((dir / "dup").c_str(), 0600);
  EXPECT_THROW(medport::server::TokenStore::load(dir / "dup"), medport::InputError);
}

TEST(ServerTokens, LoopbackAddresses) {
  EXPECT_TRUE(medport::server::is_loopback_address("127.0.0.1"));
  EXPECT_TRUE(medport::server::is_loopback_address("127.3.2.1"));
  EXPECT_TRUE(medport::server::is_loopback_address("::1"));
  EXPECT_TRUE(medport::server::is_loopback_address("::ffff:127.0.0.1"));
  EXPECT_FALSE(medport::server::is_loopback_address("10.0.0.1"));
  EXPECT_FALSE(medport::server::is_loopback_address("::ffff:192.168.1.2"));
  EXPECT_FALSE(medport::server::is_loopback_address("1270.0.0.1"));
}

TEST(ServerSecurity, WithoutTokensOnlyLoopbackMayListen) {
  TempDir state;
  auto o = options(state);
  o.host = "0.0.0.0";
  EXPECT_THROW(medport::server::Server{o}, medport::UsageError);
  o.tls_cert = "x.pem";  // half a TLS pair
  o.host = "127.0.0.1";
  EXPECT_THROW(medport::server::Server{o}, medport::UsageError);
}

TEST(ServerSecurity, TokensAreRequiredAndAudited) {
  TempDir state;
  auto o = options(state);
  o.token_file = write_token_file(state, 0600);
  LocalServer server(o);
  auto c = server.client();
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);  // probes need no token
  const auto missing = c.Get("/v2/models/phantom2d");
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(missing->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_NE(json::parse(missing->body)["error"].get<std::string>().find("missing"), std::string::npos);
  EXPECT_EQ(c.Get("/v2/models/phantom2d", {{"Authorization", "Bearer wrong"}})->status, 401);
  EXPECT_EQ(c.Get("/v2/models/phantom2d", {{"Authorization", "Bearer s3cret-alice"}})->status, 200);
  // The server writes a request's audit line once its response is sent: wait for the three.
  std::vector<json> lines;
  for (int i = 0; i < 200 && lines.size() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    lines = audit_lines(state / "audit.jsonl");
  }
  ASSERT_EQ(lines.size(), 3u);  // the health probe is not audited
  int unauthorized = 0, alice = 0;
  for (const auto& l : lines) {
    for (const char* key : {"time", "request_id", "token_id", "remote", "method", "endpoint", "model", "status", "latency_ms"})
      EXPECT_TRUE(l.contains(key)) << key;
    if (l["status"] == 401) {
      ++unauthorized;
      EXPECT_TRUE(l["token_id"].is_null());
    }
    if (l["token_id"] == "alice") {
      ++alice;
      EXPECT_EQ(l["endpoint"], "/v2/models/{name}");
      EXPECT_EQ(l["model"], "phantom2d");
    }
  }
  EXPECT_EQ(unauthorized, 2);
  EXPECT_EQ(alice, 1);
  // A refused request with a body leaves the connection usable: the body is read, not misread as
  // the next request.
  auto kept = server.client();
  kept.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(kept.Post("/v2/repository/index", "{\"ready\": true}", "application/json")->status, 401);
    EXPECT_EQ(kept.Post("/v2/repository/index", {{"Authorization", "Bearer s3cret-bob"}}, "{}", "application/json")->status, 200);
  }
  // The tokens never reach the audit trail.
  EXPECT_EQ(medport::testing::read_text(state / "audit.jsonl").find("s3cret"), std::string::npos);
}

TEST(ServerSecurity, OversizedBodiesGet413) {
  TempDir state;
  auto o = options(state);
  o.max_body_bytes = 64 * 1024;
  LocalServer server(o);
  const auto res = server.client().Post("/v2/models/phantom2d/infer", std::string(100 * 1024, ' '), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_NE(res->body.find("limit"), std::string::npos);
}

TEST(ServerSecurity, FullQueueGets429WithRetryAfter) {
  TempDir state;
  auto o = options(state);
  o.workers = 1;
  o.queue = 0;
  LocalServer server(o);
  const std::string png = big_png(state);
  // Keep the only worker busy, then ask again while it is.
  auto first = std::async(std::launch::async, [&] { return server.client().Post("/v1/segment", segment_form(png))->status; });
  bool saw_429 = false;
  for (int i = 0; i < 400 && !saw_429; ++i) {
    const auto metrics = server.client().Get("/metrics")->body;
    if (metrics.find("medport_requests_running 1") == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    const auto res = server.client().Post("/v1/segment", segment_form(png));
    ASSERT_TRUE(res);
    if (res->status == 429) {
      saw_429 = true;
      EXPECT_GE(std::stoi(res->get_header_value("Retry-After")), 1);
      EXPECT_NE(json::parse(res->body)["error"].get<std::string>().find("too many requests"), std::string::npos);
    }
  }
  EXPECT_TRUE(saw_429);
  EXPECT_EQ(first.get(), 200);
}

TEST(ServerSecurity, DeadlinesStopLongRequests) {
  TempDir state;
  auto o = options(state);
  LocalServer server(o);
  // A 1024 x 1024 image: dozens of tiles x 4 mirrorings, far beyond 100 ms on any CPU; the
  // pipeline's progress callback stops it at the deadline.
  std::vector<float> pixels(1024 * 1024);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>((i * 7919) % 255);
  medport::ckpt::write_npy_file(state / "big.npy", medport::Tensor::from_f32({1024, 1024}, pixels));
  const httplib::MultipartFormDataItems form{{"image", medport::testing::read_text(state / "big.npy"), "big.npy", ""},
                                             {"spacing", "0.3,0.3", "", ""}};
  const auto start = std::chrono::steady_clock::now();
  const auto res = server.client().Post("/v1/segment", {{"X-Request-Deadline-Ms", "100"}}, form);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 504) << res->body;
  EXPECT_NE(res->body.find("deadline exceeded"), std::string::npos);
  EXPECT_LT(seconds, 10.0);
  EXPECT_EQ(server.client().Post("/v1/segment", {{"X-Request-Deadline-Ms", "5"}}, form)->status, 400);
}

TEST(ServerSecurity, TlsServesHttps) {
  TempDir state;
  const auto key = state / "key.pem", cert = state / "cert.pem";
  const auto r = medport::testing::run_program({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                                key.string(), "-out", cert.string(), "-days", "1", "-subj", "/CN=localhost"});
  if (r.exit_code != 0) GTEST_SKIP() << "openssl cannot make a test certificate: " << r.err;
  auto o = options(state);
  o.tls_cert = cert;
  o.tls_key = key;
  LocalServer server(o);
  httplib::SSLClient tls("127.0.0.1", server.port());
  tls.set_ca_cert_path(cert.c_str());
  tls.enable_server_certificate_verification(false);  // the CN is localhost, the address 127.0.0.1
  const auto res = tls.Get("/v2/models/phantom2d");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  // Plain HTTP to the TLS port gets no answer.
  httplib::Client plain("127.0.0.1", server.port());
  plain.set_read_timeout(2, 0);
  const auto no = plain.Get("/v2/models/phantom2d");
  EXPECT_TRUE(!no || no->status != 200);
}

}  // namespace
