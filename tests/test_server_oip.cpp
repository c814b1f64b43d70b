// The Open Inference Protocol endpoints of `medport serve` against the embedded phantom model:
// health, metadata, repository index, JSON and binary-tensor inference equal to running the
// same ONNX graph in-process, strict request validation, and hot reload.
#include <cstring>
#include <memory>

#include "medport/runtime/session.hpp"
#include "medport/server/server.hpp"
#include "server_test.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using medport::testing::LocalServer;
using medport::testing::PhantomRepository;

class ServerOip : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<LocalServer>(medport::testing::local_server_options(PhantomRepository::get().repository, state_.path()));
  }
  static void TearDownTestSuite() { server_.reset(); }
  httplib::Client client() const { return server_->client(std::chrono::seconds(60)); }
  static std::vector<float> ramp(std::size_t n) {
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(std::sin(0.01 * static_cast<double>(i)) * 2.0);
    return v;
  }
  static std::vector<float> in_process(const std::vector<float>& input, const medport::Shape& shape) {
    medport::runtime::Session session(PhantomRepository::get().onnx);
    const auto out = session.run({{"input", medport::Tensor::from_f32(shape, input)}});
    return out.at(0).tensor.to_f32();
  }
  static inline medport::testing::TempDir state_;
  static inline std::unique_ptr<LocalServer> server_;
};

TEST_F(ServerOip, HealthMetadataAndIndex) {
  auto c = client();
  EXPECT_EQ(c.Get("/v2/health/live")->status, 200);
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);
  const auto meta = json::parse(c.Get("/v2/models/phantom2d")->body);
  EXPECT_EQ(meta["name"], "phantom2d");
  EXPECT_EQ(meta["platform"], "onnxruntime_onnx");
  EXPECT_EQ(meta["inputs"][0]["name"], "input");
  EXPECT_EQ(meta["inputs"][0]["datatype"], "FP32");
  EXPECT_EQ(meta["inputs"][0]["shape"], json({-1, 1, -1, -1}));
  EXPECT_EQ(meta["outputs"][0]["shape"], json({-1, 4, -1, -1}));
  EXPECT_EQ(c.Get("/v2/models/phantom2d/versions/1")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/phantom2d/versions/2")->status, 404);
  EXPECT_EQ(c.Get("/v2/models/phantom2d/ready")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/nope/ready")->status, 404);
  const auto index = json::parse(c.Post("/v2/repository/index", "{}", "application/json")->body);
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0]["name"], "phantom2d");
  EXPECT_EQ(index[0]["state"], "READY");
  EXPECT_EQ(json::parse(c.Get("/v2")->body)["name"], "medport");
}

TEST_F(ServerOip, JsonInferenceEqualsTheGraphRunInProcess) {
  const medport::Shape shape{1, 1, 64, 32};
  const auto input = ramp(64 * 32);
  json req{{"id", "r1"}, {"inputs", {{{"name", "input"}, {"shape", shape}, {"datatype", "FP32"}, {"data", input}}}}};
  const auto res = client().Post("/v2/models/phantom2d/infer", req.dump(), "application/json");
  ASSERT_EQ(res->status, 200) << res->body;
  const auto reply = json::parse(res->body);
  EXPECT_EQ(reply["id"], "r1");
  EXPECT_EQ(reply["model_version"], "1");
  ASSERT_EQ(reply["outputs"].size(), 1u);
  EXPECT_EQ(reply["outputs"][0]["shape"], json({1, 4, 64, 32}));
  const auto got = reply["outputs"][0]["data"].get<std::vector<float>>();
  const auto want = in_process(input, shape);
  ASSERT_EQ(got.size(), want.size());
  // JSON carries floats as shortest round-trip decimals: exactly the same values.
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << i;
}

TEST_F(ServerOip, BinaryTensorExtensionBothWays) {
  const medport::Shape shape{2, 1, 32, 32};
  const auto input = ramp(2 * 32 * 32);
  json header{{"inputs", {{{"name", "input"}, {"shape", shape}, {"datatype", "FP32"},
                          {"parameters", {{"binary_data_size", input.size() * 4}}}}}},
              {"outputs", {{{"name", "logits"}, {"parameters", {{"binary_data", true}}}}}}};
  std::string body = header.dump();
  const std::size_t header_length = body.size();
  body.append(reinterpret_cast<const char*>(input.data()), input.size() * 4);
  httplib::Headers headers{{"Inference-Header-Content-Length", std::to_string(header_length)}};
  const auto res = client().Post("/v2/models/phantom2d/infer", headers, body, "application/octet-stream");
  ASSERT_EQ(res->status, 200) << res->body;
  const std::size_t reply_header = std::stoul(res->get_header_value("Inference-Header-Content-Length"));
  const auto reply = json::parse(res->body.substr(0, reply_header));
  EXPECT_EQ(reply["outputs"][0]["parameters"]["binary_data_size"], 2 * 4 * 32 * 32 * 4);
  std::vector<float> got(2 * 4 * 32 * 32);
  ASSERT_EQ(res->body.size() - reply_header, got.size() * 4);
  std::memcpy(got.data(), res->body.data() + reply_header, got.size() * 4);
  EXPECT_EQ(got, in_process(input, shape));
}

TEST_F(ServerOip, MalformedRequestsAreClear400s) {
  auto c = client();
  auto post = [&](const std::string& body) { return c.Post("/v2/models/phantom2d/infer", body, "application/json"); };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "not valid JSON"},
      {R"({"inputs": [], "inputs": []})", "duplicate key"},
      {R"({"inputs": [{"name": "input", "shape": [1,1,32,32], "datatype": "FP32", "data": [1]}]})", "holds 1 values"},
      {R"({"inputs": [{"name": "input", "shape": [1,1,32,32], "datatype": "BYTES", "data": []}]})", "not supported"},
      {R"({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})", "has no input 'x'"},
      {R"({"inputs": [{"name": "input", "shape": [1,2,32,32], "datatype": "FP32", "data": []}], "extra": 1})", "unknown key"},
      {R"({"inputs": [{"name": "input", "shape": [1,1,30,32], "datatype": "FP32",)"
       R"( "parameters": {"binary_data_size": 3840}}]})", "no Inference-Header-Content-Length"},
      {R"({"inputs": [{"name": "input", "shape": [1,1,2,2], "datatype": "FP32", "data": [1,2,3,4]}]})", "multiple of"},
      {R"({"inputs": [{"name": "input", "shape": [1,1,1,1], "datatype": "FP32", "data": [[[[1]]]]}], "outputs": [{"name": "nope"}]})",
       "has no output"},
  };
  for (const auto& [body, message] : cases) {
    const auto res = post(body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << body;
    const auto reply = json::parse(res->body);
    EXPECT_NE(reply["error"].get<std::string>().find(message), std::string::npos) << reply["error"] << " for " << body;
  }
}

TEST_F(ServerOip, ModelNamesCannotLeaveTheRepository) {
  auto c = client();
  for (const char* path : {"/v2/models/..%2F..%2Fetc%2Fpasswd/ready", "/v2/models/../ready", "/v2/models/%2e%2e/infer",
                           "/v2/models/a%00b/ready", "/v2/repository/models/..%2Fx/load"}) {
    const auto res = path[strlen(path) - 1] == 'y' ? c.Get(path) : c.Post(path, "{}", "application/json");
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 400) << path << ": " << res->body;
  }
  EXPECT_EQ(c.Get("/v2/models/.hidden")->status, 400);
  EXPECT_EQ(c.Get("/v2/models/unknown_model")->status, 404);
}

TEST_F(ServerOip, UnloadAndLoadSwapTheModel) {
  auto c = client();
  ASSERT_EQ(c.Post("/v2/repository/models/phantom2d/unload", "", "application/json")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/phantom2d/ready")->status, 404);
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 503);
  const auto index = json::parse(c.Post("/v2/repository/index", "{}", "application/json")->body);
  EXPECT_EQ(index[0]["state"], "UNAVAILABLE");
  ASSERT_EQ(c.Post("/v2/repository/models/phantom2d/load", "{}", "application/json")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/phantom2d/ready")->status, 200);
  EXPECT_EQ(c.Post("/v2/repository/models/absent/load", "{}", "application/json")->status, 404);
}

TEST_F(ServerOip, MetricsAndOpenApiAreServed) {
  auto c = client();
  c.Get("/v2/models/phantom2d");
  const auto metrics = c.Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("medport_http_requests_total{"), std::string::npos);
  EXPECT_NE(metrics->body.find("medport_models_loaded 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("medport_queue_depth"), std::string::npos);
  const auto doc = c.Get("/openapi.json");
  ASSERT_EQ(doc->status, 200);
  EXPECT_EQ(json::parse(doc->body)["openapi"].get<std::string>().substr(0, 2), "3.");
  EXPECT_EQ(c.Get("/no/such/thing")->status, 404);
}

}  // namespace
