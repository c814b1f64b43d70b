// Sampler arithmetic on a two-step process with a constant model, computed by hand, and the
// image helpers of the CLI (8-bit PGM/PPM in, [-1, 1] tensors, truncating uint8 out).
#include <cmath>
#include <cstdio>

#include "medport/error.hpp"
#include "medport/pipelines/diffusion/images.hpp"
#include "medport/pipelines/diffusion/samplers.hpp"
#include "test_support.hpp"

namespace d = medport::diffusion;
using medport::Tensor;

namespace {

// eps = 0.5 everywhere (fixed variance: C output channels).
Tensor constant_eps(const Tensor& x, const Tensor& t) {
  EXPECT_EQ(t.dtype(), medport::DType::I64);
  std::vector<float> eps(static_cast<std::size_t>(x.numel()), 0.5f);
  return Tensor::from_f32(x.shape(), eps);
}

struct HandRun {
  double x1[2];  // after the step at t = 1
  double x0[2];  // after the step at t = 0
};

// betas {0.1, 0.2}: abar {0.9, 0.72}, abar_prev {1, 0.9}; posterior variance at t=1 = 0.2*0.1/0.28.
HandRun by_hand(double std_t1) {
  const double xT[2] = {0.3, -2.0}, z1[2] = {1.0, -0.5};
  HandRun r{};
  for (int i = 0; i < 2; ++i) {
    double x0 = std::sqrt(1 / 0.72) * xT[i] - std::sqrt(1 / 0.72 - 1) * 0.5;
    x0 = std::clamp(x0, -1.0, 1.0);
    const double mean = 0.2 * std::sqrt(0.9) / 0.28 * x0 + 0.1 * std::sqrt(0.8) / 0.28 * xT[i];
    r.x1[i] = mean + std_t1 * z1[i];
    // t = 0: coef1 = 1, coef2 = 0 and no noise: x = clamp(x0_hat)
    r.x0[i] = std::clamp(std::sqrt(1 / 0.9) * r.x1[i] - std::sqrt(1 / 0.9 - 1) * 0.5, -1.0, 1.0);
  }
  return r;
}

void run_and_compare(d::VarianceType variance, double std_t1) {
  const auto process = d::DiffusionProcess::from_betas({0.1, 0.2}, {0, 7});
  d::RecordedNoise noise({0.3f, -2.0f, 1.0f, -0.5f, 4.0f, 4.0f});
  std::vector<std::vector<float>> steps;
  const Tensor out = d::sample_ddpm(process, constant_eps, {1, 1, 1, 2}, noise, {.variance = variance},
                                    [&](const d::StepInfo& s) { steps.emplace_back(s.x.begin(), s.x.end()); });
  const HandRun want = by_hand(std_t1);
  ASSERT_EQ(steps.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(steps[0][static_cast<std::size_t>(i)], want.x1[i], 1e-5);
    EXPECT_NEAR(steps[1][static_cast<std::size_t>(i)], want.x0[i], 1e-5);
  }
  EXPECT_EQ(noise.remaining(), 0u);
}

TEST(DiffusionSteps, FixedSmallVarianceByHand) { run_and_compare(d::VarianceType::FixedSmall, std::sqrt(0.2 * 0.1 / 0.28)); }

TEST(DiffusionSteps, FixedLargeVarianceByHand) { run_and_compare(d::VarianceType::FixedLarge, std::sqrt(0.2)); }

TEST(DiffusionSteps, ModelSeesMappedTimesteps) {
  const auto process = d::DiffusionProcess::from_betas({0.1, 0.2}, {0, 7});
  d::RecordedNoise noise(std::vector<float>(3 * 4, 0.0f));
  std::vector<std::int64_t> seen;
  const d::DenoiseFn spy = [&](const Tensor& x, const Tensor& t) {
    for (std::int64_t i = 0; i < t.numel(); ++i) seen.push_back(t.data<std::int64_t>()[i]);
    return constant_eps(x, t);
  };
  d::sample_ddim(process, spy, {2, 1, 1, 2}, noise, 0.0, {.variance = d::VarianceType::FixedSmall});
  EXPECT_EQ(seen, (std::vector<std::int64_t>{7, 7, 0, 0}));
}

TEST(DiffusionImages, NetpbmRoundTripAndScaling) {
  medport::testing::TempDir dir;
  const auto pgm = dir / "g.pgm";
  {
    std::FILE* f = std::fopen(pgm.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const unsigned char header[] = "P5\n# comment\n2 1\n255\n";
    std::fwrite(header, 1, sizeof header - 1, f);
    const unsigned char pixels[] = {0, 255};
    std::fwrite(pixels, 1, 2, f);
    std::fclose(f);
  }
  const Tensor image = d::load_diffusion_image(pgm, 3);  // grey replicated to RGB
  EXPECT_EQ(image.shape(), (medport::Shape{1, 3, 1, 2}));
  EXPECT_EQ(image.to_f32(), (std::vector<float>{-1, 1, -1, 1, -1, 1}));
  const Tensor mask = d::load_keep_mask(pgm, 1);
  EXPECT_EQ(mask.to_f32(), (std::vector<float>{0, 1}));
  // ((x + 1) * 127.5) truncated: 0 -> 127, -1 -> 0, 1 -> 255, 2 -> 255 (clamped)
  const Tensor samples = Tensor::from_f32({1, 1, 1, 4}, std::vector<float>{0.0f, -1.0f, 1.0f, 2.0f});
  EXPECT_EQ(d::to_uint8_pixels(samples, 0), (std::vector<std::uint8_t>{127, 0, 255, 255}));
  d::write_netpbm(dir / "out.pgm", samples, 0);
  const Tensor back = d::load_diffusion_image(dir / "out.pgm", 1);
  EXPECT_NEAR(back.to_f32()[0], 127 / 127.5 - 1, 1e-6);
  // PNG: RGB order survives the BGR storage of OpenCV.
  const Tensor rgb = Tensor::from_f32({1, 3, 1, 2}, std::vector<float>{-1.0f, 1.0f, 0.0f, 0.0f, 1.0f, -1.0f});
  d::write_png(dir / "rgb.png", rgb, 0);
  EXPECT_EQ(d::to_uint8_pixels(d::load_diffusion_image(dir / "rgb.png", 3), 0),
            (std::vector<std::uint8_t>{0, 127, 255, 255, 127, 0}));
  EXPECT_EQ(d::load_keep_mask(dir / "rgb.png", 1).to_f32(), (std::vector<float>{0, 1}));  // red channel
  {
    std::FILE* f = std::fopen((dir / "broken.png").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("\x89PNG not really", f);
    std::fclose(f);
  }
  EXPECT_THROW(d::load_diffusion_image(dir / "broken.png", 3), medport::InputError);
  EXPECT_THROW(d::load_diffusion_image(dir / "missing.pgm", 3), medport::InputError);
  EXPECT_THROW(d::load_diffusion_image(dir / "out.gif", 3), medport::InputError);
}

}  // namespace
