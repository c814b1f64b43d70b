// The browser viewer end to end: `medport serve` on the phantom model, headless Chromium
// (Debian's chromium) driven by playwright-core (tools/serve/package.json, installed by
// `./setup.sh test`) uploads the four views of an unseen phantom; the script checks that the
// overlays are drawn and that the EF shown is the API's, then runs few-shot from a labelled
// example when the IRIS fixture is there; here the screenshot is checked too.
#include "server_test.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using medport::testing::PhantomRepository;
using medport::testing::run_medport;
using medport::testing::ServerProcess;
using medport::testing::TempDir;

TEST(ServerViewer, EchoEfInHeadlessChromium) {
  const fs::path tools = medport::testing::source_dir() / "tools" / "serve";
  if (!fs::exists(tools / "node_modules" / "playwright-core")) GTEST_SKIP() << "playwright-core not installed (./setup.sh test)";
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "Debian's chromium is not installed";
  TempDir tmp;
  ASSERT_EQ(run_medport({"phantom", "-o", (tmp / "ph").string(), "--patients", "1", "--seed", "2026"}).exit_code, 0);
  const auto spacing = medport::testing::read_json(tmp / "ph/phantom0001/spacing.json");
  auto text = [](const json& s) { return std::to_string(s[0].get<double>()) + "," + std::to_string(s[1].get<double>()); };
  // The phantom segmenter, and an IRIS model for the few-shot tab when its fixture is there.
  fs::copy(PhantomRepository::get().repository, tmp / "repo", fs::copy_options::recursive);
  const auto iris = medport::testing::fixture("iris/iris_base8");
  if (!iris.empty()) {
    ASSERT_EQ(run_medport({"convert", (iris / "final_model.pt").string(), "--config", (iris / "config.json").string(), "-o",
                           (tmp / "iris").string()})
                  .exit_code,
              0);
    ASSERT_EQ(run_medport({"export", (tmp / "iris").string(), "-o", (tmp / "repo").string()}).exit_code, 0);
    const fs::path views = tmp / "ph/phantom0001";
    ::setenv("FEWSHOT_SUPPORT", (views / "phantom0001_2CH_ED.png").c_str(), 1);
    ::setenv("FEWSHOT_MASK", (views / "phantom0001_2CH_ED_gt.png").c_str(), 1);
    ::setenv("FEWSHOT_QUERY", (views / "phantom0001_2CH_ES.png").c_str(), 1);
  }
  ServerProcess server({"--models", (tmp / "repo").string(), "--state-dir", (tmp / "state").string(), "--threads", "1"});
  ASSERT_TRUE(server.running()) << server.log();
  ::setenv("SPACING_2CH", text(spacing["2CH"]).c_str(), 1);
  ::setenv("SPACING_4CH", text(spacing["4CH"]).c_str(), 1);
  fs::create_directories(tmp / "shots");
  const auto r = medport::testing::run_program({"node", (tools / "viewer_e2e.mjs").string(),
                                               "http://127.0.0.1:" + std::to_string(server.port()) + "/",
                                               (tmp / "ph/phantom0001").string(), "phantom0001", (tmp / "shots").string()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << server.log();
  const auto seen = json::parse(r.out);
  EXPECT_EQ(seen["canvases"].size(), 4u);
  EXPECT_NEAR(std::stod(seen["ef_text"].get<std::string>()), seen["api_ef"].get<double>(), 0.05);
  // The screenshot is a real PNG of the page with the results on it.
  const std::string png = medport::testing::read_text(tmp / "shots" / "viewer_echo.png");
  ASSERT_GT(png.size(), 20000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  if (!iris.empty()) {
    // Few-shot from a labelled example: an overlay and the per-class areas came back.
    ASSERT_TRUE(seen.contains("fewshot_caption")) << r.out;
    EXPECT_NE(seen["fewshot_caption"].get<std::string>().find("mm²"), std::string::npos) << seen["fewshot_caption"];
    EXPECT_NE(seen["fewshot_caption"].get<std::string>().find("confidence"), std::string::npos);
  }
  if (const char* keep = std::getenv("MEDPORT_VIEWER_SCREENSHOT")) fs::copy_file(tmp / "shots" / "viewer_echo.png", keep, fs::copy_options::overwrite_existing);
}

}  // namespace
