// `medport segment --preprocessed` against nnU-Net's own sliding window: the fixtures made by
// the original PyTorch code (sliding_window.npz), and for other image sizes the PyTorch
// reference tools/nnunet_sliding_window_reference.py (itself checked against the fixtures).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

struct Model {
  const char* name;
  const char* folder;
};
const Model kCamus{"camus2d_small", "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d"};
const Model kResEnc{"resenc3d_small", "nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres"};

fs::path convert(const fs::path& folder, const TempDir& dir) {
  const auto onnx = dir / "model.onnx";
  const auto r = medport::testing::run_medport({"convert", folder.string(), "-o", onnx.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return onnx;
}

// Runs segment on IMAGE.npy; returns the logits and fills `seg`.
std::vector<float> segment(const fs::path& onnx, const fs::path& npy, const fs::path& out,
                           const std::vector<std::string>& extra, Tensor* seg = nullptr) {
  std::vector<std::string> args{"segment", onnx.string(), npy.string(), "-o", out.string(), "--preprocessed",
                                "--save-logits"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = medport::testing::run_medport(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string stem = npy.stem().string();
  if (seg) *seg = ckpt::read_npy_file(out / (stem + "_seg.npy"));
  return ckpt::read_npz_member(out / (stem + "_logits.npz"), "logits").to_f32();
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = a.size() == b.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  return worst;
}

double agreement(const Tensor& a, const Tensor& b) {
  const auto x = a.to_f32(), y = b.to_f32();
  EXPECT_EQ(x.size(), y.size());
  std::size_t same = 0;
  for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) same += x[i] == y[i];
  return x.empty() ? 0.0 : static_cast<double>(same) / static_cast<double>(x.size());
}

void check_fixture(const Model& model) {
  const auto folder = medport::testing::fixture(model.folder);
  const auto npz = medport::testing::fixture(std::string("nnunet/") + model.name + "/sliding_window.npz");
  if (folder.empty() || npz.empty()) GTEST_SKIP() << "fixtures for " << model.name << " not found";
  TempDir dir;
  const auto onnx = convert(folder, dir);
  const auto image = dir / "image.npy";
  ckpt::write_npy_file(image, ckpt::read_npz_member(npz, "image"));

  Tensor seg;
  const auto mirrored = segment(onnx, image, dir / "tta", {}, &seg);
  const double err = max_abs_diff(mirrored, ckpt::read_npz_member(npz, "logits_mirrored").to_f32());
  EXPECT_LE(err, 1e-3) << "mirrored logits";
  const Tensor expected_seg = ckpt::read_npz_member(npz, "segmentation");
  EXPECT_EQ(seg.dtype(), DType::U8);
  EXPECT_EQ(seg.shape(), expected_seg.shape());
  EXPECT_GE(agreement(seg, expected_seg), 0.999);

  const auto plain = segment(onnx, image, dir / "plain", {"--no-tta", "--tile-batch", "3", "--workers", "2"});
  EXPECT_LE(max_abs_diff(plain, ckpt::read_npz_member(npz, "logits_no_mirror").to_f32()), 1e-3) << "no-mirror logits";
  std::printf("%s: max |logits - fixture| = %.3g (mirrored)\n", model.name, err);
}

TEST(SegmentParity, Camus2DMatchesNnUNetFixture) { check_fixture(kCamus); }
TEST(SegmentParity, ResEnc3DMatchesNnUNetFixture) { check_fixture(kResEnc); }

bool torch_available() {
  static const bool ok =
      medport::testing::run_program({MEDPORT_PYTHON, "-c", "import torch, scipy"}).exit_code == 0;
  return ok;
}

// Another image size against the PyTorch reference sliding window.
void check_size(const Model& model, const Shape& shape, bool mirror) {
  const auto folder = medport::testing::fixture(model.folder);
  if (folder.empty()) GTEST_SKIP() << "fixture " << model.folder << " not found";
  if (!torch_available()) GTEST_SKIP() << MEDPORT_PYTHON << " with torch and scipy is not available";
  TempDir dir;
  const auto onnx = convert(folder, dir);
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  std::vector<float> values(static_cast<std::size_t>(shape_numel(shape)));
  for (auto& v : values) v = normal(rng);
  const auto image = dir / "case.npy";
  ckpt::write_npy_file(image, Tensor::from_f32(shape, values));
  const auto reference = dir / "reference.npz";
  std::vector<std::string> argv{MEDPORT_PYTHON,
                                (medport::testing::source_dir() / "tools" / "nnunet_sliding_window_reference.py").string(),
                                "predict", folder.string(), image.string(), reference.string()};
  if (!mirror) argv.push_back("--no-mirror");
  const auto r = medport::testing::run_program(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor expected = ckpt::read_npz_member(reference, "logits");
  const auto logits = segment(onnx, image, dir / "out", mirror ? std::vector<std::string>{} : std::vector<std::string>{"--no-tta"});
  EXPECT_LE(max_abs_diff(logits, expected.to_f32()), 1e-3) << shape_string(shape);
}

TEST(SegmentParity, Camus2DSmallerThanPatch) { check_size(kCamus, {1, 100, 90}, true); }
TEST(SegmentParity, Camus2DOddSizeManyTiles) { check_size(kCamus, {1, 129, 301}, false); }
TEST(SegmentParity, ResEnc3DSmallerThanPatchInTwoAxes) { check_size(kResEnc, {1, 12, 50, 70}, true); }

}  // namespace
