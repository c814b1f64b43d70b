// Region-based (sigmoid) nnU-Net models in `medport segment`: a 2-channel 2D model with regions
// whole [1,2,3] / core [2,3] / enhancing 3 and regions_class_order [1,2,3] (made with
// tools/nnunet_reference.py, kept in tests/fixtures/nnunet_predictor/regions2d_model).
//  - raw image with resampling against tests/python/nnunet_region_segment_reference.py
//    (nnU-Net's steps restated with numpy/scipy and the PyTorch network);
//  - preprocessed input: label map and probabilities against the written logits, by hand;
//  - the summary's labels and regions against the label map.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

class SegmentRegions : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = medport::testing::source_dir() / "tests" / "fixtures" / "nnunet_predictor" / "regions2d_model" /
              "nnUNetTrainer__nnUNetPlans__2d";
    ASSERT_TRUE(fs::exists(folder_ / "plans.json")) << folder_;
    onnx_ = dir_ / "regions.onnx";
    const auto r = medport::testing::run_medport({"convert", folder_.string(), "-o", onnx_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // (2, H, W): T1-like and T2-like channels, zero outside an inner rectangle (cropping has work).
  Tensor image(std::int64_t h, std::int64_t w, unsigned seed) const {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0F, 1.0F);
    std::vector<float> v(static_cast<std::size_t>(2 * h * w), 0.0F);
    for (std::int64_t y = 3; y < h - 4; ++y)
      for (std::int64_t x = 2; x < w - 5; ++x) {
        const float smooth = 0.5F + 0.5F * std::sin(0.3F * static_cast<float>(x)) * std::cos(0.2F * static_cast<float>(y));
        v[static_cast<std::size_t>(y * w + x)] = 800.0F * (0.7F * smooth + 0.3F * u(rng));
        v[static_cast<std::size_t>(h * w + y * w + x)] = 300.0F * (0.5F * smooth + 0.5F * u(rng));
      }
    return Tensor::from_f32({2, h, w}, v);
  }

  TempDir dir_;
  fs::path folder_, onnx_;
};

TEST_F(SegmentRegions, RawImageMatchesPythonRestatement) {
  const auto input = dir_ / "brain.npy";
  ckpt::write_npy_file(input, image(50, 44, 3));
  const auto out = dir_ / "out";
  const auto r = medport::testing::run_medport({"segment", onnx_.string(), input.string(), "-o", out.string(),
                                                "--spacing", "0.7,1.2", "--save-probabilities"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto reference = dir_ / "reference.npz";
  const auto script = medport::testing::source_dir() / "tests" / "python" / "nnunet_region_segment_reference.py";
  const auto py = medport::testing::run_program(
      {MEDPORT_PYTHON, script.string(), folder_.string(), input.string(), "0.7", "1.2", reference.string()});
  if (py.exit_code != 0 && py.err.find("No module named") != std::string::npos)
    GTEST_SKIP() << "Python module not available: " << py.err;
  ASSERT_EQ(py.exit_code, 0) << py.err;

  const auto seg = ckpt::read_npy_file(out / "brain_seg.npy");
  const auto expected = ckpt::read_npz_member(reference, "segmentation");
  ASSERT_EQ(seg.shape(), (Shape{50, 44}));
  ASSERT_EQ(expected.shape(), seg.shape());
  const auto a = seg.to_f32(), b = expected.to_f32();
  std::size_t same = 0;
  std::vector<int> seen(4, 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    same += a[i] == b[i];
    if (a[i] >= 0 && a[i] < 4) seen[static_cast<std::size_t>(a[i])] = 1;
  }
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(a.size()), 0.999);
  EXPECT_EQ(seen, (std::vector<int>{1, 1, 1, 1})) << "the case should exercise every painted value";

  // Both sides accumulate in float32; what remains is resampling arithmetic (double vs float).
  const auto p = ckpt::read_npz_member(out / "brain_probabilities.npz", "probabilities");
  const auto q = ckpt::read_npz_member(reference, "probabilities");
  ASSERT_EQ(p.shape(), (Shape{3, 50, 44}));
  ASSERT_EQ(q.shape(), p.shape());
  const auto pv = p.to_f32(), qv = q.to_f32();
  double worst = 0;
  for (std::size_t i = 0; i < pv.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(pv[i]) - qv[i]));
  EXPECT_LE(worst, 1e-3);
  // Outside the nonzero crop every region probability is 0 (nnU-Net's revert_cropping_on_probabilities).
  EXPECT_EQ(pv[0], 0.0F);
  EXPECT_EQ(pv[2 * 50 * 44 + 50 * 44 - 1], 0.0F);
}

TEST_F(SegmentRegions, PreprocessedLabelsArePaintedFromSigmoidsInOrder) {
  std::mt19937 rng(11);
  std::normal_distribution<float> n;
  std::vector<float> v(2 * 40 * 36);
  for (auto& x : v) x = n(rng);
  const auto input = dir_ / "pre.npy";
  ckpt::write_npy_file(input, Tensor::from_f32({2, 40, 36}, v));
  const auto out = dir_ / "out";
  const auto r = medport::testing::run_medport({"segment", onnx_.string(), input.string(), "-o", out.string(),
                                                "--preprocessed", "--save-logits", "--save-probabilities"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto logits = ckpt::read_npz_member(out / "pre_logits.npz", "logits").to_f32();
  const auto probs = ckpt::read_npz_member(out / "pre_probabilities.npz", "probabilities").to_f32();
  const auto seg = ckpt::read_npy_file(out / "pre_seg.npy").to_f32();
  const std::size_t voxels = 40 * 36;
  ASSERT_EQ(logits.size(), 3 * voxels);
  ASSERT_EQ(probs.size(), 3 * voxels);
  ASSERT_EQ(seg.size(), voxels);
  const int order[3] = {1, 2, 3};
  double certainty = 0;
  for (std::size_t i = 0; i < voxels; ++i) {
    int expected = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(logits[k * voxels + i])));
      EXPECT_NEAR(probs[k * voxels + i], s, 1e-6);
      if (s > 0.5) expected = order[k];
      certainty += std::max(s, 1.0 - s);
    }
    ASSERT_EQ(static_cast<int>(seg[i]), expected) << "voxel " << i;
  }
  certainty /= 3.0 * static_cast<double>(voxels);

  // Summary: label values 0..3 named after dataset.json (regions paint 1 and 2, 'enhancing' is 3),
  // region sizes are the voxels whose label belongs to the region.
  const auto summary = medport::testing::read_json(out / "pre.json");
  EXPECT_EQ(summary["settings"]["nonlinearity"], "sigmoid");
  EXPECT_EQ(summary["settings"]["regions_class_order"], (std::vector<int>{1, 2, 3}));
  EXPECT_NEAR(summary["confidence"]["mean_region_certainty"].get<double>(), certainty, 1e-5);
  std::vector<std::int64_t> count(4, 0);
  for (float x : seg) ++count[static_cast<std::size_t>(x)];
  const std::vector<std::string> names{"background", "whole", "core", "enhancing"};
  ASSERT_EQ(summary["labels"].size(), 4u);
  for (std::size_t v = 0; v < 4; ++v) {
    EXPECT_EQ(summary["labels"][v]["value"], v);
    EXPECT_EQ(summary["labels"][v]["name"], names[v]);
    EXPECT_EQ(summary["labels"][v]["pixels"], count[v]);
  }
  ASSERT_EQ(summary["regions"].size(), 3u);
  EXPECT_EQ(summary["regions"][0]["name"], "whole");
  EXPECT_EQ(summary["regions"][0]["pixels"], count[1] + count[2] + count[3]);
  EXPECT_EQ(summary["regions"][1]["name"], "core");
  EXPECT_EQ(summary["regions"][1]["pixels"], count[2] + count[3]);
  EXPECT_EQ(summary["regions"][2]["name"], "enhancing");
  EXPECT_EQ(summary["regions"][2]["pixels"], count[3]);
  EXPECT_NEAR(summary["regions"][0]["area_mm2"].get<double>(), static_cast<double>(count[1] + count[2] + count[3]),
              1e-9);  // target spacing 1 x 1 mm
}

TEST_F(SegmentRegions, SidecarWithoutRegionsClassOrderIsRefused) {
  // A region-based sidecar whose regions_class_order was lost cannot paint a label map.
  const auto sidecar = dir_ / "regions.medport.json";
  auto json = medport::testing::read_json(sidecar);
  json["nnunet"]["labels"]["regions_class_order"] = std::vector<int>{1, 2};
  {
    std::ofstream f(sidecar);
    f << json.dump();
  }
  ckpt::write_npy_file(dir_ / "x.npy", Tensor::zeros(DType::F32, {2, 32, 32}));
  const auto r = medport::testing::run_medport(
      {"segment", onnx_.string(), (dir_ / "x.npy").string(), "-o", (dir_ / "out").string(), "--preprocessed"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("regions_class_order"), std::string::npos) << r.err;
}

}  // namespace
