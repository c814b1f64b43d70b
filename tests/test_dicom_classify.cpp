// `medport classify` takes DICOM through the image layer (a frame of an RGB ultrasound cine gives
// the probabilities of the same pixels as PNG) and shards its inputs like segment and fewshot.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include <opencv2/imgcodecs.hpp>

#include "dicom_test_data.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport::testing;
namespace data = medport::testing::dicom_data;

class ClassifyDicom : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    const auto ck = source_dir() / "tests/fixtures/timm/tf_mobilenetv3_small_minimal_fp16/model.pth";
    if (!fs::exists(ck)) return;
    std::ofstream(dir_->path() / "classes.txt") << "A2C\nA3C\nA4C\nPLAX\nPSAX\n";
    const auto r = run_medport({"convert", ck.string(), "--arch", "tf_mobilenetv3_small_minimal_100", "--classes",
                                (dir_->path() / "classes.txt").string(), "-o", model()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override {
    if (!fs::exists(model())) GTEST_SKIP() << "timm fixture model not converted";
  }
  static std::string model() { return (dir_->path() / "m.onnx").string(); }
  static TempDir* dir_;
};
TempDir* ClassifyDicom::dir_ = nullptr;

TEST_F(ClassifyDicom, CineFrameEqualsTheSamePixelsAsPng) {
  const TempDir tmp;
  const auto spec = data::echo_cine_spec(3, 96, 128, true);
  data::write_cine(tmp / "cine.dcm", spec);
  // Frame 2 as a PNG (OpenCV writes BGR).
  const std::size_t plane = 96 * 128;
  cv::Mat bgr(96, 128, CV_8UC3);
  for (std::size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) bgr.data[i * 3 + (2 - c)] = spec.pixels[(plane + i) * 3 + c];
  cv::imwrite((tmp / "frame2.png").string(), bgr);
  auto r = run_medport({"classify", model(), (tmp / "cine.dcm").string(), "--frame", "2", "-o", (tmp / "a").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"classify", model(), (tmp / "frame2.png").string(), "-o", (tmp / "b").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto a = read_json(tmp / "a" / "cine.json"), b = read_json(tmp / "b" / "frame2.json");
  ASSERT_TRUE(a.contains("probabilities")) << a.dump();
  for (const auto& [label, p] : b["probabilities"].items())
    EXPECT_NEAR(a["probabilities"][label].get<double>(), p.get<double>(), 1e-6) << label;
  // All frames at once is a volume, which classify refuses with the file named.
  r = run_medport({"classify", model(), (tmp / "cine.dcm").string(), "-o", (tmp / "c").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("cine.dcm"), std::string::npos) << r.err;
}

TEST_F(ClassifyDicom, ThreeShardsWriteTheFilesOfOneRun) {
  const TempDir tmp;
  fs::create_directories(tmp / "imgs");
  for (int i = 0; i < 6; ++i) {
    auto spec = data::echo_cine_spec(1, 64, 80, true);
    for (auto& v : spec.pixels) v = static_cast<std::uint8_t>(v + 17 * i);
    data::write_cine(tmp / "imgs" / ("view" + std::to_string(i) + ".dcm"), spec);
  }
  auto run = [&](const std::string& out, const std::string& shard) {
    std::vector<std::string> args{"classify", model(), (tmp / "imgs").string(), "-o", (tmp / out).string()};
    if (!shard.empty()) args.insert(args.end(), {"--shard", shard});
    return run_medport(args);
  };
  ASSERT_EQ(run("full", "").exit_code, 0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(run("sharded", std::to_string(i) + "/3").exit_code, 0);
  std::set<std::string> full, sharded;
  for (const auto& e : fs::directory_iterator(tmp / "full")) full.insert(e.path().filename().string());
  for (const auto& e : fs::directory_iterator(tmp / "sharded")) sharded.insert(e.path().filename().string());
  for (const char* table : {"classification.json", "classification.csv"}) {  // each run tabulates its own images
    full.erase(table);
    sharded.erase(table);
  }
  EXPECT_EQ(full, sharded);
  EXPECT_EQ(full.size(), 6u);
  for (const auto& name : full)
    EXPECT_EQ(read_text(tmp / "full" / name), read_text(tmp / "sharded" / name)) << name;
}

}  // namespace
