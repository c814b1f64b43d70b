// `medport convert` + `medport sample` / `medport inpaint` end to end on the small UNet, replaying
// the recorded noise of the upstream runs: the written arrays must match the fixtures.
#include <cmath>

#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::testing::run_medport;

double max_abs_diff(const medport::Tensor& a, const medport::Tensor& b) {
  const auto x = a.to_f32(), y = b.to_f32();
  if (x.size() != y.size()) return INFINITY;
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(x[i]) - y[i]));
  return worst;
}

class DiffusionCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
    model_ = medport::testing::fixture("diffusion/gd_echogains_small/model.pt");
    if (model_.empty()) GTEST_SKIP() << "diffusion fixtures not found";
    const auto r = run_medport({"convert", model_.string(), "-o", (dir_ / "unet.onnx").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  medport::testing::TempDir dir_;
  fs::path model_;
};

TEST_F(DiffusionCli, SampleReplaysTheDdpmFixture) {
  const auto fixture = medport::testing::fixture("diffusion/ddpm_linear_10.npz");
  const auto r = run_medport({"sample", (dir_ / "unet.onnx").string(), "-o", (dir_ / "s.npz").string(), "--size", "32",
                              "--respacing", "10", "--noise-npz", fixture.string(), "--images", (dir_ / "img").string(),
                              "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto want = medport::ckpt::read_npz_member(fixture, "samples");
  const auto got = medport::ckpt::read_npz_member(dir_ / "s.npz", "samples");
  const auto n = static_cast<std::size_t>(want.shape()[0]);
  const auto last = want.to_f32();
  const std::vector<float> final_step(last.end() - static_cast<std::ptrdiff_t>(last.size() / n), last.end());
  EXPECT_LE(max_abs_diff(got, medport::Tensor::from_f32(got.shape(), final_step)), 1e-3);
  EXPECT_TRUE(fs::exists(dir_ / "img" / "sample_000.png"));
}

TEST_F(DiffusionCli, InpaintReplaysTheRepaintFixture) {
  const auto fixture = medport::testing::fixture("diffusion/repaint_linear.npz");
  const auto npz = medport::ckpt::NpzFile::open(fixture);
  medport::ckpt::write_npz(dir_ / "image.npz", {{"image", npz.read("gt")}});
  medport::ckpt::write_npz(dir_ / "mask.npz", {{"mask", npz.read("keep_mask")}});
  const auto r = run_medport({"inpaint", (dir_ / "unet.onnx").string(), "--image", (dir_ / "image.npz").string(),
                              "--mask", (dir_ / "mask.npz").string(), "-o", (dir_ / "out.npz").string(),
                              "--noise-npz", fixture.string(), "--t-T", "20", "--jump-length", "3",
                              "--jump-n-sample", "3", "--respacing", "20", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(max_abs_diff(medport::ckpt::read_npz_member(dir_ / "out.npz", "inpainted"), npz.read("final")), 1e-3);
}

TEST_F(DiffusionCli, BadInputsGiveInputAndUsageErrors) {
  const auto onnx = (dir_ / "unet.onnx").string();
  // 30 is not a multiple of 32 (five downsamplings).
  EXPECT_EQ(run_medport({"sample", onnx, "-o", (dir_ / "x.npz").string(), "--size", "30", "-q"}).exit_code, 2);
  EXPECT_EQ(run_medport({"sample", onnx, "-o", (dir_ / "x.npz").string(), "--size", "32", "--respacing", "ddim7000", "-q"})
                .exit_code,
            2);
  medport::testing::TempDir other;
  const fs::path bad = other / "bad.pgm";
  {
    std::FILE* f = std::fopen(bad.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("P5\n32 32\n255\nshort", f);
    std::fclose(f);
  }
  EXPECT_EQ(run_medport({"inpaint", onnx, "--image", bad.string(), "--mask", bad.string(), "-o",
                         (dir_ / "x.npz").string(), "-q"})
                .exit_code,
            3);
  // Recorded noise that runs out is an input error too.
  const auto ddpm = medport::testing::fixture("diffusion/ddpm_linear_10.npz");
  EXPECT_EQ(run_medport({"sample", onnx, "-o", (dir_ / "x.npz").string(), "--size", "32", "--respacing", "20",
                         "--noise-npz", ddpm.string(), "-q"})
                .exit_code,
            3);
}

}  // namespace
