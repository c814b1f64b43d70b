// The embedded default model models/phantom2d (tools/train_phantom_model.py) end to end through
// the CLI, as README command 1 runs it: convert, segment phantom patients the model never saw
// (seed 7; training used 101-104 and 201), evaluate against the phantom ground truth, and EF by
// the CAMUS method on the predicted masks against the phantom's analytic EF.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <vector>

#include "medport/checkpoint/npy.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

constexpr int kPatients = 2;
constexpr const char* kSeed = "7";
// Per patient the model reaches mean Dice LV 0.990-0.993, MYO 0.972-0.978, LA 0.977-0.989 on
// 16 unseen phantoms (docs/SEGMENT.md); the bounds leave margin. EF: the issue's 3 points.
constexpr double kMinMeanDiceLv = 0.95;
constexpr double kMinMeanDiceMyoLa = 0.90;
constexpr double kMaxEfErrorPoints = 3.0;

std::string spacing_arg(const nlohmann::json& pair) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "%.17g,%.17g", pair[0].get<double>(), pair[1].get<double>());
  return buf;
}

class PhantomModel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
    model_ = medport::testing::source_dir() / "models" / "phantom2d";
    ASSERT_TRUE(fs::exists(model_ / "fold_0" / "checkpoint_final.pth")) << model_;
  }
  fs::path model_;
  TempDir dir_;
};

TEST_F(PhantomModel, SegmentsUnseenPhantomsWithGoodDiceAndEf) {
  const fs::path onnx = dir_ / "phantom2d.onnx";
  auto r = run_medport({"convert", model_.string(), "-o", onnx.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"phantom", "-o", (dir_ / "phantoms").string(), "--patients", std::to_string(kPatients), "--seed", kSeed});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  for (int i = 1; i <= kPatients; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "phantom%04d", i);
    const fs::path patient = dir_ / "phantoms" / id;
    const fs::path seg = dir_ / (std::string(id) + "_seg");
    const auto spacing = medport::testing::read_json(patient / "spacing.json");
    for (const std::string view : {"2CH", "4CH"}) {
      const std::string stem = (patient / (std::string(id) + "_" + view)).string();
      r = run_medport({"segment", onnx.string(), stem + "_ED.npy", stem + "_ES.npy", "-o", seg.string(), "--spacing",
                       spacing_arg(spacing[view]), "--threads", "2"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    EXPECT_TRUE(fs::exists(seg / (std::string(id) + "_4CH_ES_overlay.png")));

    const fs::path eval = dir_ / (std::string(id) + "_eval");
    r = run_medport({"evaluate", seg.string(), patient.string(), "-o", eval.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto metrics = medport::testing::read_json(eval / "metrics.json");
    ASSERT_EQ(metrics["cases"].size(), 4u);
    const auto& lv = metrics["summary"]["1"]["dice"];
    EXPECT_GE(lv["mean"].get<double>(), kMinMeanDiceLv) << id;
    EXPECT_GE(metrics["summary"]["2"]["dice"]["mean"].get<double>(), kMinMeanDiceMyoLa) << id;
    EXPECT_GE(metrics["summary"]["3"]["dice"]["mean"].get<double>(), kMinMeanDiceMyoLa) << id;

    const fs::path ef_json = dir_ / (std::string(id) + "_ef.json");
    r = run_medport({"echo-ef", seg.string(), "--suffix", "seg", "--spacing-a2c", spacing_arg(spacing["2CH"]),
                     "--spacing-a4c", spacing_arg(spacing["4CH"]), "--json", ef_json.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto ef = medport::testing::read_json(ef_json);
    const auto truth = medport::testing::read_json(patient / (std::string(id) + "_truth.json"))["truth"];
    EXPECT_EQ(ef["method"], "biplane_method_of_disks");
    EXPECT_NEAR(ef["EF_percent"].get<double>(), truth["EF_percent"].get<double>(), kMaxEfErrorPoints)
        << id << " Dice LV " << lv["mean"];
  }
}

// A colour (RGB or RGBA) copy of a gray phantom frame, as PNG exports of echo loops often are,
// gives the gray frame's labels: one-channel models see the frame's luminance (imaging/luminance.hpp).
TEST_F(PhantomModel, ColourCopiesOfAGrayFrameGiveTheSameLabels) {
  const fs::path onnx = dir_ / "phantom2d.onnx";
  auto r = run_medport({"convert", model_.string(), "-o", onnx.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"phantom", "-o", (dir_ / "phantoms").string(), "--patients", "1", "--seed", kSeed});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path gray = dir_ / "phantoms" / "phantom0001" / "phantom0001_4CH_ED.png";
  const cv::Mat frame = cv::imread(gray.string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(frame.channels(), 1);
  cv::Mat rgb, rgba;
  cv::cvtColor(frame, rgb, cv::COLOR_GRAY2BGR);
  cv::cvtColor(frame, rgba, cv::COLOR_GRAY2BGRA);
  fs::create_directories(dir_ / "in");
  fs::copy_file(gray, dir_ / "in" / "gray.png");
  ASSERT_TRUE(cv::imwrite((dir_ / "in" / "rgb.png").string(), rgb));
  ASSERT_TRUE(cv::imwrite((dir_ / "in" / "rgba.png").string(), rgba));
  r = run_medport({"segment", onnx.string(), (dir_ / "in" / "gray.png").string(), (dir_ / "in" / "rgb.png").string(),
                   (dir_ / "in" / "rgba.png").string(), "-o", (dir_ / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto labels = medport::read_file(dir_ / "out" / "gray_seg.png");
  EXPECT_EQ(medport::read_file(dir_ / "out" / "rgb_seg.png"), labels);
  EXPECT_EQ(medport::read_file(dir_ / "out" / "rgba_seg.png"), labels);
  const cv::Mat seg = cv::imread((dir_ / "out" / "gray_seg.png").string(), cv::IMREAD_UNCHANGED);
  double lo = 0, hi = 0;
  cv::minMaxLoc(seg, &lo, &hi);
  EXPECT_EQ(hi, 3.0);  // LV, MYO and LA found
  EXPECT_EQ(medport::testing::read_json(dir_ / "out" / "rgba.json")["input"]["converted_to_luminance_from"], "RGBA");
  EXPECT_FALSE(medport::testing::read_json(dir_ / "out" / "gray.json")["input"].contains("converted_to_luminance_from"));
}

// `medport evaluate` takes the spacing of npy/PNG label maps from the phantom's spacing.json
// beside the reference, per view: a 2-row shift at 0.5 mm rows is a 1 mm Hausdorff distance.
TEST_F(PhantomModel, EvaluateUsesSpacingJsonBesideTheReference) {
  const fs::path ref = dir_ / "ref", pred = dir_ / "pred";
  fs::create_directories(ref);
  fs::create_directories(pred);
  auto square = [](int row0) {
    std::vector<std::byte> bytes(20 * 20, std::byte{0});
    for (int r = row0; r < row0 + 8; ++r)
      for (int c = 6; c < 14; ++c) bytes[static_cast<std::size_t>(r * 20 + c)] = std::byte{1};
    return medport::Tensor::from_bytes(medport::DType::U8, {20, 20}, bytes);
  };
  medport::ckpt::write_npy_file(ref / "x_2CH_ED_gt.npy", square(4));
  medport::ckpt::write_npy_file(pred / "x_2CH_ED_seg.npy", square(6));
  medport::write_file_atomic(ref / "spacing.json", R"({"2CH": [0.5, 0.25], "4CH": [3.0, 3.0]})");
  const auto r = run_medport({"evaluate", pred.string(), ref.string(), "-o", (dir_ / "eval").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("carries no spacing"), std::string::npos) << r.err;
  const auto metrics = medport::testing::read_json(dir_ / "eval" / "metrics.json");
  EXPECT_DOUBLE_EQ(metrics["cases"][0]["labels"][0]["hausdorff_mm"].get<double>(), 1.0);
}

}  // namespace
