// The device-resident sampling loops against the host loops on configurations the recorded
// fixtures do not cover: fixed small/large variance, no clipping, DDIM eta 1, RePaint with a mask
// broadcast over batch and channels, torch-seeded noise. The model is a small smooth ONNX graph of
// x and t, so both loops see exactly the same network; on the CPU provider they must agree to
// float32 rounding (the two differ only in how exp is evaluated and in operation fusion).
#include <cmath>
#include <cstdio>

#include "medport/error.hpp"
#include "medport/graph/builder.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/pipelines/diffusion/device_sampler.hpp"
#include "medport/pipelines/diffusion/onnx_denoiser.hpp"
#include "medport/runtime/session.hpp"
#include "test_support.hpp"

namespace d = medport::diffusion;
namespace rt = medport::runtime;
using medport::DType;
using medport::Shape;
using medport::Tensor;

namespace {

constexpr double kAgreement = 2e-5;

// out = tanh(0.8 x + t / 4000 - 0.3) (eps), and sin(x) (v) for the learned range: inputs "x" and
// "t" like a guided-diffusion UNet, any size.
rt::Session toy_unet(bool learned_sigma, const rt::SessionOptions& options = {}) {
  medport::graph::Builder b("toy_unet");
  const auto x = b.input("x", DType::F32, {"N", 3, "H", "W"});
  const auto t = b.input("t", DType::I64, {"N"});
  const auto level = b.reshape(b.div(b.cast(t, DType::F32), 4000.0), {-1, 1, 1, 1});
  const auto eps = b.tanh(b.sub(b.add(b.mul(x, 0.8), level), 0.3));
  b.output(learned_sigma ? b.concat({eps, b.sin(x)}, 1) : eps, "out");
  return rt::Session(medport::graph::to_model_bytes(std::move(b).finish()), options);
}

double max_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const auto va = a.to_f32(), vb = b.to_f32();
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(va[i]) - vb[i]));
  return worst;
}

struct Case {
  const char* name;
  d::SamplerOptions options;
};

const Case kCases[] = {
    {"learned range, clipped", {d::VarianceType::LearnedRange, true}},
    {"learned range, unclipped", {d::VarianceType::LearnedRange, false}},
    {"fixed small", {d::VarianceType::FixedSmall, true}},
    {"fixed large, unclipped", {d::VarianceType::FixedLarge, false}},
};

TEST(DeviceLoop, DdpmMatchesTheHostLoop) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Cosine, 1000, "12");
  const Shape shape{2, 3, 8, 12};
  for (const Case& c : kCases) {
    const rt::Session unet = toy_unet(c.options.variance == d::VarianceType::LearnedRange);
    d::TorchNoise host_noise(7), device_noise(7);
    const Tensor host = d::sample_ddpm(process, d::session_denoiser(unet), shape, host_noise, c.options);
    const Tensor device = d::sample_ddpm_on_device(process, unet, shape, device_noise, c.options);
    const double diff = max_difference(host, device);
    std::printf("DDPM %s: host vs device loop %.3g\n", c.name, diff);
    EXPECT_LE(diff, kAgreement) << c.name;
    // Both took the same draws: the generators are in the same state.
    EXPECT_EQ(host_noise.generator().random(), device_noise.generator().random()) << c.name;
  }
}

TEST(DeviceLoop, DdimMatchesTheHostLoop) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 1000, "ddim8");
  const Shape shape{1, 3, 16, 8};
  for (const double eta : {0.0, 1.0}) {
    for (const Case& c : kCases) {
      const rt::Session unet = toy_unet(c.options.variance == d::VarianceType::LearnedRange);
      d::TorchNoise host_noise(11), device_noise(11);
      const Tensor host = d::sample_ddim(process, d::session_denoiser(unet), shape, host_noise, eta, c.options);
      const Tensor device = d::sample_ddim_on_device(process, unet, shape, device_noise, eta, c.options);
      const double diff = max_difference(host, device);
      std::printf("DDIM eta %.1f %s: host vs device loop %.3g\n", eta, c.name, diff);
      EXPECT_LE(diff, kAgreement) << c.name << " eta " << eta;
    }
  }
}

TEST(DeviceLoop, RepaintMatchesTheHostLoopWithABroadcastMask) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 1000, "30");
  const d::JumpSchedule schedule{.t_T = 30, .n_sample = 2, .jump_length = 4, .jump_n_sample = 3};
  const Shape shape{3, 3, 8, 8};
  std::vector<float> gt_values(static_cast<std::size_t>(medport::shape_numel(shape)));
  for (std::size_t i = 0; i < gt_values.size(); ++i) gt_values[i] = std::sin(0.37f * static_cast<float>(i));
  std::vector<float> mask_values(64);
  for (std::size_t i = 0; i < mask_values.size(); ++i) mask_values[i] = (i % 8) < 5 ? 1.0f : 0.0f;
  const Tensor gt = Tensor::from_f32(shape, gt_values);
  const Tensor mask = Tensor::from_f32({1, 1, 8, 8}, mask_values);
  for (const Case& c : kCases) {
    const rt::Session unet = toy_unet(c.options.variance == d::VarianceType::LearnedRange);
    d::TorchNoise host_noise(3), device_noise(3);
    const Tensor host = d::sample_repaint(process, d::session_denoiser(unet), gt, mask, host_noise, schedule, c.options);
    d::DeviceLoopOptions loop;
    loop.noise_block = 5;
    const Tensor device = d::sample_repaint_on_device(process, unet, gt, mask, device_noise, schedule, c.options, loop);
    const double diff = max_difference(host, device);
    std::printf("RePaint %s: host vs device loop %.3g\n", c.name, diff);
    EXPECT_LE(diff, kAgreement) << c.name;
    EXPECT_EQ(host_noise.generator().random(), device_noise.generator().random()) << c.name;
  }
}

// On a GPU: the loop on CUDA (x never leaves the device) against the host loop on the CPU, with and
// without CUDA graphs for the UNet calls. Skipped without a usable CUDA device.
TEST(DeviceLoop, CudaLoopMatchesTheCpuHostLoop) {
  if (!rt::cuda_provider_available()) GTEST_SKIP() << "no CUDA device: " << rt::cuda_unavailable_reason();
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 1000, "30");
  const d::JumpSchedule schedule{.t_T = 30, .n_sample = 1, .jump_length = 5, .jump_n_sample = 3};
  const Shape shape{2, 3, 16, 16};
  const Tensor gt = Tensor::from_f32(shape, std::vector<float>(static_cast<std::size_t>(medport::shape_numel(shape)), 0.25f));
  std::vector<float> mask_values(256);
  for (std::size_t i = 0; i < mask_values.size(); ++i) mask_values[i] = i < 128 ? 1.0f : 0.0f;
  const Tensor mask = Tensor::from_f32({1, 1, 16, 16}, mask_values);
  const rt::Session cpu_unet = toy_unet(true);
  d::TorchNoise host_noise(5);
  const Tensor host = d::sample_repaint(process, d::session_denoiser(cpu_unet), gt, mask, host_noise, schedule);
  for (const bool graphs : {false, true}) {
    rt::SessionOptions cuda;
    cuda.provider = rt::Provider::Cuda;
    cuda.cuda.cuda_graph = graphs;
    const rt::Session unet = toy_unet(true, cuda);
    d::TorchNoise device_noise(5);
    d::DeviceLoopOptions loop;
    loop.cuda_graphs = graphs;
    const Tensor device = d::sample_repaint_on_device(process, unet, gt, mask, device_noise, schedule, {}, loop);
    const double diff = max_difference(host, device);
    std::printf("RePaint on CUDA%s vs host loop on CPU: %.3g\n", graphs ? " (CUDA graphs)" : "", diff);
    EXPECT_LE(diff, 1e-4) << (graphs ? "with" : "without") << " CUDA graphs";
  }
}

TEST(DeviceLoop, RefusesAModelWithoutTheUnetInputs) {
  medport::graph::Builder b("not_a_unet");
  const auto x = b.input("image", DType::F32, {"N", 3, "H", "W"});
  b.output(b.identity(x), "out");
  const rt::Session session(medport::graph::to_model_bytes(std::move(b).finish()));
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 1000, "4");
  d::TorchNoise noise(0);
  EXPECT_THROW(d::sample_ddpm_on_device(process, session, {1, 3, 8, 8}, noise, {.variance = d::VarianceType::FixedSmall}),
               medport::InputError);
}

}  // namespace
