// `medport convert` + `medport sample` / `medport inpaint` end to end on the small UNet, replaying
// the recorded noise of the upstream runs: the written arrays must match the fixtures.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/pipelines/diffusion/images.hpp"
#include "hostile_files.hpp"
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

// The device-resident loop (step graphs on the session's provider, here the CPU) replays the same
// fixtures; draws cross noise-block boundaries.
TEST_F(DiffusionCli, DeviceLoopReplaysTheDdpmAndRepaintFixtures) {
  const auto ddpm = medport::testing::fixture("diffusion/ddpm_linear_10.npz");
  auto r = run_medport({"sample", (dir_ / "unet.onnx").string(), "-o", (dir_ / "s.npz").string(), "--size", "32",
                        "--respacing", "10", "--noise-npz", ddpm.string(), "--device-loop", "--noise-block", "4", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("device loop on cpu"), std::string::npos) << r.err;
  const auto want = medport::ckpt::read_npz_member(ddpm, "samples").to_f32();
  const auto got = medport::ckpt::read_npz_member(dir_ / "s.npz", "samples");
  const std::vector<float> final_step(want.end() - static_cast<std::ptrdiff_t>(got.numel()), want.end());
  EXPECT_LE(max_abs_diff(got, medport::Tensor::from_f32(got.shape(), final_step)), 1e-3);

  const auto repaint = medport::testing::fixture("diffusion/repaint_linear.npz");
  const auto npz = medport::ckpt::NpzFile::open(repaint);
  medport::ckpt::write_npz(dir_ / "image.npz", {{"image", npz.read("gt")}});
  medport::ckpt::write_npz(dir_ / "mask.npz", {{"mask", npz.read("keep_mask")}});
  r = run_medport({"inpaint", (dir_ / "unet.onnx").string(), "--image", (dir_ / "image.npz").string(), "--mask",
                   (dir_ / "mask.npz").string(), "-o", (dir_ / "out.npz").string(), "--noise-npz", repaint.string(),
                   "--t-T", "20", "--jump-length", "3", "--jump-n-sample", "3", "--respacing", "20", "--device-loop",
                   "--noise-block", "5", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("device loop on cpu"), std::string::npos) << r.err;
  EXPECT_LE(max_abs_diff(medport::ckpt::read_npz_member(dir_ / "out.npz", "inpainted"), npz.read("final")), 1e-3);
}

// Seeded torch draws: host and device loops give the same images (a batch of 2, DDIM eta 0.5).
TEST_F(DiffusionCli, HostAndDeviceLoopsAgreeForASeed) {
  for (const char* loop : {"--host-loop", "--device-loop"}) {
    const auto r = run_medport({"sample", (dir_ / "unet.onnx").string(), "-o", (dir_ / (std::string(loop + 2) + ".npz")).string(),
                                "--size", "32", "--steps", "6", "--ddim", "--eta", "0.5", "--batch", "2", "--seed", "12",
                                loop, "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto host = medport::ckpt::read_npz_member(dir_ / "host-loop.npz", "samples");
  const auto device = medport::ckpt::read_npz_member(dir_ / "device-loop.npz", "samples");
  ASSERT_EQ(host.shape(), (medport::Shape{2, 3, 32, 32}));
  EXPECT_LE(max_abs_diff(host, device), 1e-5);
}

TEST_F(DiffusionCli, LoopFlagsAreCheckedBeforeAnyWork) {
  auto r = run_medport({"sample", (dir_ / "unet.onnx").string(), "-o", (dir_ / "s.npz").string(), "--size", "32",
                        "--cuda-graph"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--cuda-graph needs --provider cuda"), std::string::npos) << r.err;
  r = run_medport({"sample", (dir_ / "unet.onnx").string(), "-o", (dir_ / "s.npz").string(), "--size", "32",
                   "--device-loop", "--host-loop"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_medport({"sample", (dir_ / "unet.onnx").string(), "-o", (dir_ / "s.npz").string(), "--size", "32",
                   "--noise-block", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

double max_relative_diff(const medport::Tensor& a, const medport::Tensor& b) {
  const auto y = b.to_f32();
  double scale = 0;
  for (const float v : y) scale = std::max(scale, std::abs(static_cast<double>(v)));
  return max_abs_diff(a, b) / std::max(scale, 1e-12);
}

TEST_F(DiffusionCli, ConvertHeadFlagsChangeTheGraphAndAreRecorded) {
  const auto forward = medport::testing::fixture("diffusion/gd_echogains_small/forward.npz");
  const auto npz = medport::ckpt::NpzFile::open(forward);
  medport::ckpt::write_npz(dir_ / "in.npz", {{"x", npz.read("x")}, {"t", npz.read("t")}});
  const auto want = npz.read("out");

  // Default (EchoGAINS: head width 1, legacy order) reproduces the upstream forward pass.
  auto r = run_medport({"run", (dir_ / "unet.onnx").string(), "--inputs", (dir_ / "in.npz").string(), "-o",
                        (dir_ / "default.npz").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(max_relative_diff(medport::ckpt::read_npz_member(dir_ / "default.npz", "out"), want), 1e-4);

  // --num-heads 4 alone: 4 heads by count, a different attention, a different output.
  r = run_medport({"convert", model_.string(), "-o", (dir_ / "heads4.onnx").string(), "--num-heads", "4",
                   "--attention-order", "new", "--image-size", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto sidecar = medport::testing::read_json(dir_ / "heads4.medport.json").dump();
  EXPECT_NE(sidecar.find("\"num_head_channels\":-1"), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("\"num_heads\":4"), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("\"attention_order\":\"new\""), std::string::npos) << sidecar;
  EXPECT_NE(sidecar.find("\"image_size\":64"), std::string::npos) << sidecar;
  r = run_medport({"run", (dir_ / "heads4.onnx").string(), "--inputs", (dir_ / "in.npz").string(), "-o",
                   (dir_ / "heads4.npz").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(max_abs_diff(medport::ckpt::read_npz_member(dir_ / "heads4.npz", "out"), want), 1e-3);

  // Explicit defaults give the default graph's output.
  r = run_medport({"convert", model_.string(), "-o", (dir_ / "explicit.onnx").string(), "--num-head-channels", "1",
                   "--attention-order", "legacy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"run", (dir_ / "explicit.onnx").string(), "--inputs", (dir_ / "in.npz").string(), "-o",
                   (dir_ / "explicit.npz").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LE(max_relative_diff(medport::ckpt::read_npz_member(dir_ / "explicit.npz", "out"), want), 1e-4);

  // Heads that do not divide the channels (32, 64 at the attention levels), bad values: usage errors.
  EXPECT_EQ(run_medport({"convert", model_.string(), "-o", (dir_ / "x.onnx").string(), "--num-heads", "3"}).exit_code, 2);
  EXPECT_EQ(run_medport({"convert", model_.string(), "-o", (dir_ / "x.onnx").string(), "--num-head-channels", "0"})
                .exit_code,
            2);
  EXPECT_EQ(run_medport({"convert", model_.string(), "-o", (dir_ / "x.onnx").string(), "--attention-order", "odd"})
                .exit_code,
            2);
}

TEST_F(DiffusionCli, InpaintCropsTheImageAndBuildsTheSectorMask) {
  // 80 x 64 grey image: zero background, a bright block; --size 32 halves to 40 x 32 and crops.
  const fs::path pgm = dir_ / "echo.pgm";
  {
    std::ofstream f(pgm, std::ios::binary);
    f << "P5\n64 80\n255\n";
    for (int y = 0; y < 80; ++y) {
      for (int x = 0; x < 64; ++x) f.put(static_cast<char>(y >= 20 && y < 60 && x >= 8 && x < 56 ? 128 : 0));
    }
  }
  const auto r = run_medport({"inpaint", (dir_ / "unet.onnx").string(), "--image", pgm.string(), "--sector-mask", "2",
                              "--size", "32", "-o", (dir_ / "out.npz").string(), "--seed", "0", "--t-T", "4",
                              "--jump-length", "1", "--jump-n-sample", "1", "--respacing", "4", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // By hand: halved to 40 x 32 (block rows 10..29, cols 4..27), cropped rows 4..35 -> block rows
  // 6..25; keep = block minus its first row and column. The same run on these must match exactly.
  const auto write_pgm32 = [](const fs::path& path, int y0, int x0, int y1, int x1, int value) {
    std::ofstream f(path, std::ios::binary);
    f << "P5\n32 32\n255\n";
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 32; ++x) f.put(static_cast<char>(y >= y0 && y <= y1 && x >= x0 && x <= x1 ? value : 0));
    }
  };
  write_pgm32(dir_ / "crop.pgm", 6, 4, 25, 27, 128);
  write_pgm32(dir_ / "keep.pgm", 7, 5, 25, 27, 255);
  const auto r2 = run_medport({"inpaint", (dir_ / "unet.onnx").string(), "--image", (dir_ / "crop.pgm").string(),
                               "--mask", (dir_ / "keep.pgm").string(), "-o", (dir_ / "ref.npz").string(), "--seed",
                               "0", "--t-T", "4", "--jump-length", "1", "--jump-n-sample", "1", "--respacing", "4",
                               "-q"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  const auto out = medport::ckpt::read_npz_member(dir_ / "out.npz", "inpainted");
  ASSERT_EQ(out.shape(), (medport::Shape{1, 3, 32, 32}));
  EXPECT_EQ(max_abs_diff(out, medport::ckpt::read_npz_member(dir_ / "ref.npz", "inpainted")), 0.0);
  EXPECT_EQ(run_medport({"inpaint", (dir_ / "unet.onnx").string(), "--image", pgm.string(), "-o",
                         (dir_ / "x.npz").string(), "-q"})
                .exit_code,
            2);  // neither --mask nor --sector-mask
  // -o OUT.png writes the 8-bit image: the same values as the npz, mapped by ((x + 1) * 127.5).
  const auto r3 = run_medport({"inpaint", (dir_ / "unet.onnx").string(), "--image", pgm.string(), "--sector-mask", "2",
                               "--size", "32", "-o", (dir_ / "out.png").string(), "--seed", "0", "--t-T", "4",
                               "--jump-length", "1", "--jump-n-sample", "1", "--respacing", "4", "-q"});
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  const auto png = medport::diffusion::load_diffusion_image(dir_ / "out.png", 3);
  ASSERT_EQ(png.shape(), (medport::Shape{1, 3, 32, 32}));
  const auto from_npz = out.to_f32(), from_png = png.to_f32();
  double worst = 0;
  for (std::size_t i = 0; i < from_npz.size(); ++i) {
    const double expected = std::clamp(std::floor((from_npz[i] + 1.0) * 127.5), 0.0, 255.0) / 127.5 - 1.0;
    worst = std::max(worst, std::abs(expected - from_png[i]));
  }
  EXPECT_LE(worst, 1.0 / 127.5 + 1e-6);
}

TEST_F(DiffusionCli, SampleShortFormWritesAFolderLikeTheLongForm) {
  // medport sample MODEL --n 2 --steps 4 --ddim --eta 0 -o OUTDIR  ==  --batch 2 --sampler ddim --respacing ddim4
  const auto onnx = (dir_ / "unet.onnx").string();
  const auto r = run_medport({"sample", onnx, "--n", "2", "--steps", "4", "--ddim", "--eta", "0", "--size", "32",
                              "--seed", "5", "-q", "-o", (dir_ / "short").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto r2 = run_medport({"sample", onnx, "--batch", "2", "--sampler", "ddim", "--respacing", "ddim4", "--size",
                               "32", "--seed", "5", "-q", "-o", (dir_ / "long.npz").string()});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  const auto a = medport::ckpt::read_npz_member(dir_ / "short" / "samples.npz", "samples");
  const auto b = medport::ckpt::read_npz_member(dir_ / "long.npz", "samples");
  ASSERT_EQ(a.shape(), (medport::Shape{2, 3, 32, 32}));
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
  EXPECT_TRUE(fs::exists(dir_ / "short" / "sample_000.png"));
  EXPECT_TRUE(fs::exists(dir_ / "short" / "sample_001.png"));
  EXPECT_EQ(run_medport({"sample", onnx, "--steps", "4", "--respacing", "4", "--size", "32", "-q", "-o",
                         (dir_ / "x.npz").string()})
                .exit_code,
            2);
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

TEST_F(DiffusionCli, SizeIsBoundedAndTheOutputIsCheckedBeforeSampling) {
  const auto onnx = (dir_ / "unet.onnx").string();
  // 16384 x 16384 would take many GB: refused at once.
  auto r = run_medport({"sample", onnx, "-o", (dir_ / "big.npz").string(), "--size", "16384", "-q"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("2^24"), std::string::npos) << r.err;
  // With the trained size in the sidecar, more than twice that is refused too.
  r = run_medport({"convert", model_.string(), "-o", (dir_ / "sized.onnx").string(), "--image-size", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"sample", (dir_ / "sized.onnx").string(), "-o", (dir_ / "big.npz").string(), "--size", "256", "-q"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("more than twice the 64"), std::string::npos) << r.err;
  r = run_medport({"sample", onnx, "-o", (dir_ / "big.npz").string(), "--size", "128", "--batch", "1024", "-q"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("2^24"), std::string::npos) << r.err;
  // An output that cannot be written is found before the (long) sampling, not after it.
  medport::testing::write_bytes(dir_ / "a_file", "x");
  r = run_medport({"sample", onnx, "-o", (dir_ / "a_file" / "out.npz").string(), "--size", "32", "--respacing", "1000", "-q"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("a_file"), std::string::npos) << r.err;
  medport::testing::write_bytes(dir_ / "img.png", medport::testing::png_bytes(64, 64));
  r = run_medport({"inpaint", onnx, "--image", (dir_ / "img.png").string(), "--sector-mask", "2", "-o",
                   (dir_ / "a_file" / "out.png").string(), "-q"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("a_file"), std::string::npos) << r.err;
}

// The committed demo model (models/echo_diffusion64, docs/DIFFUSION.md) converts as the EchoGAINS
// layout at 64 px and samples; tools/demo_inpaint.sh runs the full RePaint schedule with it.
TEST(DiffusionDemoModel, ConvertsAndSamplesAt64Pixels) {
  if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
  medport::testing::TempDir dir;
  const fs::path model = medport::testing::source_dir() / "models" / "echo_diffusion64" / "model.pt";
  ASSERT_TRUE(fs::exists(model)) << model;
  auto r = run_medport({"convert", model.string(), "-o", (dir / "demo.onnx").string(), "--image-size", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"sample", (dir / "demo.onnx").string(), "--steps", "5", "--seed", "3", "-q", "-o", (dir / "s.png").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto samples = medport::ckpt::read_npz(dir / "s.png" / "samples.npz");
  ASSERT_FALSE(samples.empty());
  const auto& x = samples.front().second;
  EXPECT_EQ(x.shape(), (medport::Shape{1, 3, 64, 64}));
  for (float v : x.to_f32()) ASSERT_TRUE(std::isfinite(v) && v >= -1.0F && v <= 1.0F) << v;
}

}  // namespace
