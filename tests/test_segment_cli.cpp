// `medport segment` as a batch tool: folders in/out, resumable runs, a bad case reported and
// skipped, the per-case summary JSON and the 2D overlay.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/util/file_io.hpp"
#include "converted_camus_test.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

using SegmentCli = medport::testing::ConvertedCamusTest;

TEST_F(SegmentCli, BatchFolderResumesAndReportsBadCases) {
  const Tensor image = ckpt::read_npz_member(npz_, "image");  // (1, 200, 150)
  ckpt::write_npy_file(dir_ / "in" / "a.npy", image);
  ckpt::write_npy_file(dir_ / "in" / "b.npy", image.reshaped({200, 150}));  // no channel axis: accepted
  ckpt::write_npy_file(dir_ / "in" / "bad.npy", Tensor::zeros(DType::F32, {2, 64, 64}));  // 2 channels
  const auto out = dir_ / "out";

  auto r = run_medport({"segment", onnx_.string(), (dir_ / "in").string(), "-o", out.string(), "--preprocessed",
                        "--no-tta"});
  EXPECT_EQ(r.exit_code, 3) << r.err;  // one case failed
  EXPECT_NE(r.err.find("bad.npy"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("segmented 2 case(s)"), std::string::npos) << r.err;
  for (const char* f : {"a_seg.npy", "a.json", "a_overlay.png", "b_seg.npy", "b.json"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  EXPECT_FALSE(fs::exists(out / "bad.json"));
  EXPECT_FALSE(fs::exists(out / "a_logits.npz"));  // only with --save-logits

  const auto a = ckpt::read_npy_file(out / "a_seg.npy");
  const auto b = ckpt::read_npy_file(out / "b_seg.npy");
  EXPECT_EQ(a.shape(), (Shape{200, 150}));
  EXPECT_EQ(a.contiguous_bytes(), b.contiguous_bytes());

  const auto summary = medport::testing::read_json(out / "a.json");
  EXPECT_EQ(summary["case"], "a");
  EXPECT_EQ(summary["input"]["sha256"], sha256_hex(read_file(dir_ / "in" / "a.npy")));
  EXPECT_EQ(summary["models"][0]["onnx_sha256"], sha256_hex(read_file(onnx_)));
  EXPECT_EQ(summary["settings"]["mirroring"], false);
  // Label counts add up to the image and match the label map; spacing 0.3 x 0.3 mm.
  const auto labels = a.to_f32();
  std::int64_t total = 0;
  for (const auto& l : summary["labels"]) {
    const int value = l["value"];
    std::int64_t count = 0;
    for (float v : labels) count += static_cast<int>(v) == value;
    EXPECT_EQ(l["pixels"].get<std::int64_t>(), count) << l.dump();
    EXPECT_NEAR(l["area_mm2"].get<double>(), static_cast<double>(count) * 0.09, 1e-6);
    total += count;
  }
  EXPECT_EQ(total, 200 * 150);
  EXPECT_EQ(summary["labels"][1]["name"], "LV");
  const double confidence = summary["confidence"]["mean_max_probability"];
  EXPECT_GT(confidence, 0.25);
  EXPECT_LE(confidence, 1.0);
  EXPECT_GT(summary["timings_ms"]["network"].get<double>(), 0.0);

  // Second run: finished cases are skipped, the bad one is retried (and fails again).
  r = run_medport({"segment", onnx_.string(), (dir_ / "in").string(), "-o", out.string(), "--preprocessed", "--no-tta"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("skipped 2 already done"), std::string::npos) << r.err;
}

TEST_F(SegmentCli, ProbabilitiesContoursAndUsageErrors) {
  ckpt::write_npy_file(dir_ / "c.npy", ckpt::read_npz_member(npz_, "image"));
  const auto out = dir_ / "out";
  auto r = run_medport({"segment", onnx_.string(), (dir_ / "c.npy").string(), "-o", out.string(), "--preprocessed",
                        "--save-probabilities", "--contours", "--no-tta"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto probs = ckpt::read_npz_member(out / "c_probabilities.npz", "probabilities").to_f32();
  ASSERT_EQ(probs.size(), 4u * 200 * 150);
  for (std::size_t i = 0; i < 200 * 150; i += 997) {
    double sum = 0;
    for (std::size_t k = 0; k < 4; ++k) sum += probs[k * 200 * 150 + i];
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
  EXPECT_TRUE(fs::exists(out / "c_overlay.png"));

  r = run_medport({"segment", onnx_.string(), (dir_ / "c.npy").string(), "-o", out.string(), "--workers", "0"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_medport({"segment", (dir_ / "missing.onnx").string(), (dir_ / "c.npy").string(), "-o", out.string(),
                   "--preprocessed"});
  EXPECT_EQ(r.exit_code, 3);
  r = run_medport({"segment", onnx_.string(), (dir_ / "none.npy").string(), "-o", out.string(), "--preprocessed"});
  EXPECT_EQ(r.exit_code, 3);
  write_file_atomic(dir_ / "junk.npy", std::string_view("not an npy"));
  r = run_medport({"segment", onnx_.string(), (dir_ / "junk.npy").string(), "-o", out.string(), "--preprocessed"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("junk.npy"), std::string::npos) << r.err;
}

TEST_F(SegmentCli, RawPngRunsPreprocessingAndExportsInTheInputGeometry) {
  // A 2D gray PNG (spacing 1 mm): preprocessing resamples to 0.3 mm, export brings it back.
  cv::Mat img(60, 45, CV_8UC1);
  for (int r = 0; r < img.rows; ++r)
    for (int c = 0; c < img.cols; ++c) img.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>((r * 7 + c * 3) % 256);
  ASSERT_TRUE(cv::imwrite((dir_ / "echo.png").string(), img));
  const auto out = dir_ / "out";
  const auto r = run_medport({"segment", onnx_.string(), (dir_ / "echo.png").string(), "-o", out.string(), "--no-tta"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat seg = cv::imread((out / "echo_seg.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(seg.empty());
  EXPECT_EQ(seg.rows, 60);
  EXPECT_EQ(seg.cols, 45);
  double lo = 0, hi = 0;
  cv::minMaxLoc(seg, &lo, &hi);
  EXPECT_LE(hi, 3.0);
  const auto summary = medport::testing::read_json(out / "echo.json");
  EXPECT_EQ(summary["input"]["preprocessed"], false);
  EXPECT_EQ(summary["shape"], (std::vector<int>{60, 45}));
  EXPECT_TRUE(fs::exists(out / "echo_overlay.png"));

  // --spacing gives a PNG its pixel size: areas are pixel counts x 0.4 mm x 0.25 mm.
  const auto out2 = dir_ / "out_spacing";
  const auto r2 = run_medport({"segment", onnx_.string(), (dir_ / "echo.png").string(), "-o", out2.string(),
                               "--no-tta", "--spacing", "0.4,0.25"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  const auto summary2 = medport::testing::read_json(out2 / "echo.json");
  EXPECT_EQ(summary2["input"]["spacing_mm"], (std::vector<double>{0.4, 0.25}));
  bool any_label = false;
  for (const auto& label : summary2["labels"]) {
    EXPECT_NEAR(label["area_mm2"].get<double>(), label["pixels"].get<double>() * 0.1, 1e-6) << label;
    any_label = true;
  }
  EXPECT_TRUE(any_label);
  EXPECT_EQ(run_medport({"segment", onnx_.string(), (dir_ / "echo.png").string(), "-o", out2.string(), "--spacing",
                         "0.4"})
                .exit_code,
            2);
}

}  // namespace
