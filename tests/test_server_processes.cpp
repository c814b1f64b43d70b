// `medport serve` as its own process: the official Triton HTTP client (tritonclient) as a real
// client with outputs equal to `medport run`, graceful SIGTERM, and two server processes updating
// one few-shot memory bank without losing an update.
#include <future>
#include <set>
#include <thread>

#include "medport/checkpoint/npy.hpp"
#include "medport/pipelines/fewshot/bank_files.hpp"
#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "server_test.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using medport::testing::PhantomRepository;
using medport::testing::run_medport;
using medport::testing::ServerProcess;
using medport::testing::TempDir;

TEST(ServerProcess, TritonClientEqualsMedportRun) {
  TempDir tmp;
  ServerProcess server({"--models", PhantomRepository::get().repository.string(), "--state-dir", (tmp / "state").string(),
                        "--threads", "1"});
  ASSERT_TRUE(server.running()) << server.log();
  std::vector<float> x(2 * 64 * 48);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::cos(0.003 * static_cast<double>(i * i % 977)));
  medport::ckpt::write_npz(tmp / "in.npz", {{"input", medport::Tensor::from_f32({2, 1, 64, 48}, x)}});
  const auto script = (medport::testing::source_dir() / "tools/serve/tritonclient_check.py").string();
  const auto r = medport::testing::run_program({MEDPORT_PYTHON, script, "127.0.0.1:" + std::to_string(server.port()),
                                               "phantom2d", (tmp / "in.npz").string(), (tmp / "out").string()});
  if (r.exit_code != 0 && r.err.find("No module named") != std::string::npos) GTEST_SKIP() << "tritonclient not installed: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto seen = json::parse(r.out);
  EXPECT_EQ(seen["metadata"]["name"], "phantom2d");
  EXPECT_EQ(seen["response_id_binary"], "tritonclient-check");
  EXPECT_NE(seen["unknown_model_error"].get<std::string>().find("unknown model"), std::string::npos);
  const auto run = run_medport({"run", PhantomRepository::get().onnx.string(), "--inputs", (tmp / "in.npz").string(), "-o",
                                (tmp / "run.npz").string(), "--threads", "1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto want = medport::ckpt::read_npz_member(tmp / "run.npz", "logits").to_f32();
  for (const char* kind : {"out_binary.npz", "out_json.npz"}) {
    const auto got = medport::ckpt::read_npz_member(tmp / kind, "logits");
    EXPECT_EQ(got.shape(), (medport::Shape{2, 4, 64, 48})) << kind;
    EXPECT_EQ(got.to_f32(), want) << kind;
  }
}

TEST(ServerProcess, SigtermFinishesInFlightRequestsThenExits) {
  TempDir tmp;
  ServerProcess server({"--models", PhantomRepository::get().repository.string(), "--state-dir", (tmp / "state").string(),
                        "--threads", "1"});
  ASSERT_TRUE(server.running()) << server.log();
  ASSERT_EQ(run_medport({"phantom", "-o", (tmp / "ph").string(), "--patients", "1", "--seed", "5"}).exit_code, 0);
  const std::string png = medport::testing::read_text(tmp / "ph/phantom0001/phantom0001_4CH_ED.png");
  auto in_flight = std::async(std::launch::async, [&] {
    auto c = server.client();
    const auto res = c.Post("/v1/segment", httplib::MultipartFormDataItems{{"image", png, "v.png", "image/png"},
                                                                          {"spacing", "0.3,0.3", "", ""}});
    return res ? res->status : -1;
  });
  // Wait until the request computes, then stop the server.
  for (int i = 0; i < 500; ++i) {
    const auto m = server.client().Get("/metrics");
    if (m && m->body.find("medport_requests_running 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(server.terminate(), 0) << server.log();
  EXPECT_EQ(in_flight.get(), 200);
  const std::string log = server.log();
  EXPECT_NE(log.find("\"event\":\"signal\""), std::string::npos);
  EXPECT_NE(log.find("\"event\":\"stopped\",\"unfinished\":0"), std::string::npos) << log;
  // Stopped: nothing answers any more.
  EXPECT_FALSE(server.client().Get("/v2/health/live"));
}

TEST(ServerProcess, TwoServersShareOneMemoryBankWithoutLosingUpdates) {
  const auto fixture = medport::testing::fixture("iris/iris_base8");
  if (fixture.empty()) GTEST_SKIP() << "fixture iris/iris_base8 not found";
  TempDir tmp;
  const auto conv = run_medport({"convert", (fixture / "final_model.pt").string(), "--config", (fixture / "config.json").string(),
                                 "-o", (tmp / "iris").string()});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  ASSERT_EQ(run_medport({"export", (tmp / "iris").string(), "-o", (tmp / "repo").string()}).exit_code, 0);
  // A 2D support/query pair the model can take: a bright disk and its mask.
  const auto shape = json::parse(medport::testing::read_text(tmp / "iris/medport.json"))["iris"]["volume_shape"];
  const std::int64_t h = shape[1], w = shape[2];
  std::vector<float> image(static_cast<std::size_t>(h * w));
  std::vector<std::uint8_t> mask(image.size());
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x) {
      const bool inside = (y - h / 2) * (y - h / 2) + (x - w / 2) * (x - w / 2) < (h * w) / 16;
      image[static_cast<std::size_t>(y * w + x)] = inside ? 1.0f : 0.1f * static_cast<float>((x + y) % 3);
      mask[static_cast<std::size_t>(y * w + x)] = inside ? 1 : 0;
    }
  medport::ckpt::write_npy_file(tmp / "img.npy", medport::Tensor::from_f32({h, w}, image));
  medport::ckpt::write_npy_file(tmp / "mask.npy", medport::Tensor::from_bytes(medport::DType::U8, {h, w}, std::as_bytes(std::span(mask))));
  const std::string img = medport::testing::read_text(tmp / "img.npy"), msk = medport::testing::read_text(tmp / "mask.npy");

  const std::vector<std::string> args{"--models", (tmp / "repo").string(), "--state-dir", (tmp / "state").string(),
                                      "--threads", "1", "--workers", "2"};
  ServerProcess a(args), b(args);
  ASSERT_TRUE(a.running()) << a.log();
  ASSERT_TRUE(b.running()) << b.log();
  // The IRIS export: the folder (few-shot pipeline) and each further graph as a model of its own.
  const auto index = json::parse(a.client().Post("/v2/repository/index", "{}", "application/json")->body);
  std::set<std::string> ready;
  for (const auto& m : index)
    if (m["state"] == "READY") ready.insert(m["name"]);
  EXPECT_TRUE(ready.count("iris") && ready.count("iris__encode_support") && ready.count("iris__tune_step")) << index.dump();
  EXPECT_EQ(ready.size(), index.size()) << index.dump();
  constexpr int kPerServer = 4;
  auto update = [&](const ServerProcess& s) {
    int ok = 0;
    for (int i = 0; i < kPerServer; ++i) {
      auto c = s.client();
      const auto res = c.Post("/v1/fewshot", httplib::MultipartFormDataItems{
                                                 {"model", "iris", "", ""},
                                                 {"support_image", img, "s.npy", ""},
                                                 {"support_mask", msk, "m.npy", ""},
                                                 {"query", img, "q.npy", ""},
                                                 {"options", R"({"update_bank": true, "strategy": "one-shot"})", "", ""}});
      if (res && res->status == 200) ++ok;
      else ADD_FAILURE() << (res ? res->body : "no response");
    }
    return ok;
  };
  auto fa = std::async(std::launch::async, update, std::cref(a));
  auto fb = std::async(std::launch::async, update, std::cref(b));
  ASSERT_EQ(fa.get() + fb.get(), 2 * kPerServer);
  const auto contents = medport::pipelines::fewshot::read_bank_file(tmp / "state/banks/iris.npz");
  // A converted checkpoint's own prototypes seed the bank, each counting as one update.
  std::int64_t seeded = 0;
  if (fs::exists(tmp / "iris/memory_bank.npz"))
    for (auto id : medport::pipelines::fewshot::bank_class_ids(tmp / "iris/memory_bank.npz")) seeded += id == 1 ? 1 : 0;
  ASSERT_TRUE(contents.counts.count(1));
  EXPECT_EQ(contents.counts.at(1), 2 * kPerServer + seeded);
  EXPECT_EQ(contents.examples.size(), static_cast<std::size_t>(2 * kPerServer));
}

}  // namespace
