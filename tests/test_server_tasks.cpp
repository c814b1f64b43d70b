// The task endpoints answer what the library pipelines compute - /v1/segment equals
// segment::compute_case on the same file, /v1/echo/ef equals `medport segment` + `medport echo-ef`,
// /v1/classify equals `medport classify`, /v1/sample and /v1/inpaint run as jobs with progress,
// results and cancellation.
#include <memory>
#include <thread>

#include "medport/checkpoint/npy.hpp"
#include "medport/pipelines/segment/case_runner.hpp"
#include "medport/server/server.hpp"
#include "server_test.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using medport::testing::LocalServer;
using medport::testing::PhantomRepository;
using medport::testing::run_medport;
using medport::testing::TempDir;

std::vector<std::uint8_t> decode_base64(const std::string& text) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::uint8_t> out;
  unsigned value = 0;
  int bits = -8;
  for (char ch : text) {
    const auto pos = alphabet.find(ch);
    if (pos == std::string::npos) break;
    value = (value << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<std::uint8_t>((value >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

class ServerTasks : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new TempDir();
    const auto r = run_medport({"phantom", "-o", (tmp_->path() / "ph").string(), "--patients", "1", "--seed", "11"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The view classifier and, when the fixtures are there, the small diffusion UNet join the repository.
    const fs::path repo = tmp_->path() / "repo";
    fs::copy(PhantomRepository::get().repository, repo, fs::copy_options::recursive);
    const auto cls = run_medport({"convert", (medport::testing::source_dir() / "models/view_classifier/model_best.pth.tar").string(),
                                  "--classes", (medport::testing::source_dir() / "models/view_classifier/classes.txt").string(),
                                  "-o", (tmp_->path() / "view.onnx").string()});
    ASSERT_EQ(cls.exit_code, 0) << cls.err;
    ASSERT_EQ(run_medport({"export", (tmp_->path() / "view.onnx").string(), "-o", repo.string()}).exit_code, 0);
    const auto unet = medport::testing::fixture("diffusion/gd_echogains_small/model.pt");
    if (!unet.empty()) {
      ASSERT_EQ(run_medport({"convert", unet.string(), "-o", (tmp_->path() / "unet.onnx").string()}).exit_code, 0);
      ASSERT_EQ(run_medport({"export", (tmp_->path() / "unet.onnx").string(), "-o", repo.string()}).exit_code, 0);
    }
    server_ = std::make_unique<LocalServer>(medport::testing::local_server_options(repo, tmp_->path() / "state"));
  }
  static void TearDownTestSuite() {
    server_.reset();
    delete tmp_;
  }
  static fs::path view(const std::string& name) { return tmp_->path() / "ph" / "phantom0001" / ("phantom0001_" + name); }
  httplib::Client client() const { return server_->client(std::chrono::seconds(300)); }
  static httplib::MultipartFormData file_part(const std::string& field, const fs::path& file) {
    return {field, medport::testing::read_text(file), file.filename().string(), "application/octet-stream"};
  }
  static inline TempDir* tmp_ = nullptr;
  static inline std::unique_ptr<LocalServer> server_;
};

TEST_F(ServerTasks, SegmentEqualsTheCaseRunner) {
  const auto res = client().Post("/v1/segment", httplib::MultipartFormDataItems{file_part("image", view("2CH_ES.png")),
                                                                               {"spacing", "0.31,0.29", "", ""}});
  ASSERT_EQ(res->status, 200) << res->body;
  const auto reply = json::parse(res->body);
  // The same case through the library, in this process.
  const auto model = medport::segment::load_model(PhantomRepository::get().onnx, {});
  medport::segment::CaseOptions options;
  options.read.spacing = std::vector<double>{0.31, 0.29};
  const auto want = medport::segment::compute_case(std::span(&model, 1), {"x", {view("2CH_ES.png")}}, options);
  EXPECT_EQ(reply["labels"]["shape"], json(want.labels.shape));
  EXPECT_EQ(decode_base64(reply["labels"]["data"]), want.labels.labels);
  EXPECT_EQ(reply["summary"]["labels"], want.summary["labels"]);
  EXPECT_EQ(reply["summary"]["spacing_mm"], json({0.31, 0.29}));
  const auto png = decode_base64(reply["overlay_png"]);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png[1], 'P');
  EXPECT_FALSE(reply["summary"].contains("input"));  // no server paths
}

TEST_F(ServerTasks, EchoEfEqualsTheCli) {
  const auto spacing = json::parse(medport::testing::read_text(view("").parent_path() / "spacing.json"));
  auto text = [](const json& s) { return std::to_string(s[0].get<double>()) + "," + std::to_string(s[1].get<double>()); };
  httplib::MultipartFormDataItems form{file_part("a2c_ed", view("2CH_ED.png")), file_part("a2c_es", view("2CH_ES.png")),
                                       file_part("a4c_ed", view("4CH_ED.png")), file_part("a4c_es", view("4CH_ES.png")),
                                       {"spacing_2ch", text(spacing["2CH"]), "", ""},
                                       {"spacing_4ch", text(spacing["4CH"]), "", ""}};
  const auto res = client().Post("/v1/echo/ef", form);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto reply = json::parse(res->body);
  // The CLI: segment each view with its spacing, then echo-ef on the label maps.
  const fs::path seg = tmp_->path() / "cli_seg";
  for (const char* v : {"2CH", "4CH"}) {
    const auto r = run_medport({"segment", PhantomRepository::get().onnx.string(), view(std::string(v) + "_ED.png").string(),
                                view(std::string(v) + "_ES.png").string(), "-o", seg.string(), "--spacing", text(spacing[v])});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto ef = run_medport({"echo-ef", seg.string(), "--suffix", "seg", "--spacing-a2c", text(spacing["2CH"]),
                               "--spacing-a4c", text(spacing["4CH"]), "--json", (tmp_->path() / "ef.json").string()});
  ASSERT_EQ(ef.exit_code, 0) << ef.err;
  const auto cli = medport::testing::read_json(tmp_->path() / "ef.json");
  EXPECT_EQ(reply["method"], "biplane_method_of_disks");
  for (const char* key : {"EDV_mL", "ESV_mL", "EF_percent", "EDV_mL_unrounded", "ESV_mL_unrounded", "disk_height_mm"})
    EXPECT_DOUBLE_EQ(reply[key].get<double>(), cli[key].get<double>()) << key;
  for (const char* key : {"2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"}) {
    EXPECT_TRUE(reply["views_detail"][key].contains("overlay_png")) << key;
    EXPECT_EQ(reply["views_detail"][key]["labels"][1]["name"], "LV");
  }
}

TEST_F(ServerTasks, EchoEfWithOneViewFallsBackAndMissingSpacingIs400) {
  // The phantom's own spacing: at a wrong one the network's masks are not one cavity (refused).
  const auto spacing = json::parse(medport::testing::read_text(view("").parent_path() / "spacing.json"))["4CH"];
  const std::string spacing_4ch = std::to_string(spacing[0].get<double>()) + "," + std::to_string(spacing[1].get<double>());
  httplib::MultipartFormDataItems form{file_part("a4c_ed", view("4CH_ED.png")), file_part("a4c_es", view("4CH_ES.png")),
                                       {"spacing_4ch", spacing_4ch, "", ""}};
  const auto res = client().Post("/v1/echo/ef", form);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["method"], "single_plane_area_length");
  const auto bad = client().Post("/v1/echo/ef", httplib::MultipartFormDataItems{file_part("a4c_ed", view("4CH_ED.png"))});
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("spacing_4ch"), std::string::npos);
}

TEST_F(ServerTasks, ClassifyEqualsTheCli) {
  const auto res = client().Post("/v1/classify", httplib::MultipartFormDataItems{file_part("image", view("4CH_ED.png")),
                                                                                {"model", "view", "", ""}});
  ASSERT_EQ(res->status, 200) << res->body;
  const auto reply = json::parse(res->body)["results"][0];
  const auto cli = run_medport({"classify", (tmp_->path() / "view.onnx").string(), view("4CH_ED.png").string(), "-o",
                                (tmp_->path() / "cls").string()});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  json want;
  for (const auto& item : fs::directory_iterator(tmp_->path() / "cls"))
    if (item.path().extension() == ".json" && item.path().filename() != "summary.json") {
      const auto j = medport::testing::read_json(item.path());
      if (j.contains("top1")) want = j;
    }
  ASSERT_FALSE(want.is_null()) << "no per-image JSON from medport classify";
  EXPECT_EQ(reply["top1"]["label"], want["top1"]["label"]);
  EXPECT_EQ(reply["top1"]["label"], "4CH");
  EXPECT_DOUBLE_EQ(reply["top1"]["probability"].get<double>(), want["top1"]["probability"].get<double>());
}

TEST_F(ServerTasks, UnknownFieldsAndWrongFamiliesAre400) {
  auto c = client();
  EXPECT_EQ(c.Post("/v1/segment", httplib::MultipartFormDataItems{{"imagee", "x", "a.png", ""}})->status, 400);
  EXPECT_EQ(c.Post("/v1/segment", "{}", "application/json")->status, 400);
  const auto wrong = c.Post("/v1/classify", httplib::MultipartFormDataItems{file_part("image", view("4CH_ED.png")),
                                                                           {"model", "phantom2d", "", ""}});
  EXPECT_EQ(wrong->status, 400);
  EXPECT_NE(wrong->body.find("timm classifier"), std::string::npos);
  const auto opts = c.Post("/v1/segment", httplib::MultipartFormDataItems{file_part("image", view("4CH_ED.png")),
                                                                         {"options", R"({"tta": "yes"})", "", ""}});
  EXPECT_EQ(opts->status, 400);
  const auto bad_image = c.Post("/v1/segment", httplib::MultipartFormDataItems{{"image", "not a png", "a.png", "image/png"}});
  EXPECT_EQ(bad_image->status, 400);
  EXPECT_EQ(c.Post("/v1/segment", httplib::MultipartFormDataItems{{"image", "x", "a.exe", ""}})->status, 400);
}

json wait_for_job(httplib::Client& c, const std::string& id) {
  for (int i = 0; i < 3000; ++i) {
    const auto res = c.Get("/v1/jobs/" + id);
    const auto j = json::parse(res->body);
    if (j["state"] != "queued" && j["state"] != "running") return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

TEST_F(ServerTasks, SampleAndInpaintRunAsJobs) {
  if (medport::testing::fixture("diffusion/gd_echogains_small/model.pt").empty()) GTEST_SKIP() << "diffusion fixtures not found";
  auto c = client();
  const auto submitted = c.Post("/v1/sample", R"({"model": "unet", "size": 32, "respacing": "10", "seed": 3, "batch": 2})",
                                "application/json");
  ASSERT_EQ(submitted->status, 202) << submitted->body;
  const std::string id = json::parse(submitted->body)["id"];
  EXPECT_EQ(submitted->get_header_value("Location"), "/v1/jobs/" + id);
  const auto done = wait_for_job(c, id);
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  EXPECT_EQ(done["progress"]["done"], done["progress"]["total"]);
  EXPECT_EQ(done["result"]["images_png"].size(), 2u);
  // The same seed through the CLI gives the same samples.
  ASSERT_EQ(run_medport({"sample", (tmp_->path() / "unet.onnx").string(), "-o", (tmp_->path() / "s.npz").string(), "--size",
                         "32", "--respacing", "10", "--seed", "3", "--batch", "2", "-q"})
                .exit_code,
            0);
  const auto want = medport::ckpt::read_npz_member(tmp_->path() / "s.npz", "samples").to_f32();
  const auto bytes = decode_base64(done["result"]["samples"]["data"]);
  ASSERT_EQ(bytes.size(), want.size() * 4);
  EXPECT_EQ(std::memcmp(bytes.data(), want.data(), bytes.size()), 0);
  // Fetched once: then gone.
  EXPECT_EQ(c.Get("/v1/jobs/" + id)->status, 404);

  const auto inpaint = c.Post("/v1/inpaint", httplib::MultipartFormDataItems{
                                                 file_part("image", view("2CH_ED.png")),
                                                 {"options", R"({"size": 32, "respacing": "10", "t_T": 10, "jump_length": 2,
                                                    "jump_n_sample": 2, "sector_border": 2, "seed": 1})", "", ""}});
  ASSERT_EQ(inpaint->status, 202) << inpaint->body;
  const auto inpainted = wait_for_job(c, json::parse(inpaint->body)["id"]);
  ASSERT_EQ(inpainted["state"], "succeeded") << inpainted.dump();
  EXPECT_EQ(inpainted["result"]["shape"], json({1, 3, 32, 32}));
}

TEST_F(ServerTasks, JobsCanBeCancelledAndIdsAreChecked) {
  if (medport::testing::fixture("diffusion/gd_echogains_small/model.pt").empty()) GTEST_SKIP() << "diffusion fixtures not found";
  auto c = client();
  const auto submitted = c.Post("/v1/sample", R"({"model": "unet", "size": 32, "respacing": "4000", "seed": 1})", "application/json");
  ASSERT_EQ(submitted->status, 202);
  const std::string id = json::parse(submitted->body)["id"];
  const auto cancelled = c.Delete("/v1/jobs/" + id);
  ASSERT_EQ(cancelled->status, 200);
  const auto state = wait_for_job(c, id);
  EXPECT_EQ(state["state"], "cancelled") << state.dump();
  EXPECT_EQ(c.Get("/v1/jobs/" + std::string(32, 'a'))->status, 404);
  EXPECT_EQ(c.Get("/v1/jobs/not-an-id")->status, 400);
  EXPECT_EQ(c.Post("/v1/sample", R"({"model": "unet", "size": 32, "bogus": 1})", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/v1/sample", R"({"model": "phantom2d"})", "application/json")->status, 400);
}

}  // namespace
