// DDPM / DDIM / RePaint loops fed the recorded noise of the upstream runs, with the small
// EchoGAINS-like UNet compiled to ONNX as the model: every recorded sample must match, for the
// host loops and for the device-resident loops (step graphs on the session's provider, here the
// CPU; noise uploaded in small blocks so that draws cross block boundaries).
#include <cmath>
#include <cstdio>

#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/models/guided_diffusion/unet.hpp"
#include "medport/pipelines/diffusion/device_sampler.hpp"
#include "medport/pipelines/diffusion/onnx_denoiser.hpp"
#include "medport/pipelines/diffusion/samplers.hpp"
#include "test_support.hpp"

namespace d = medport::diffusion;
namespace gd = medport::models::guided_diffusion;
using medport::Shape;
using medport::Tensor;

namespace {

constexpr double kTolerance = 1e-3;

// Device loop settings for the fixture runs: x downloaded after every step (to compare it), blocks
// of 3 draws (DDPM/DDIM take 11, RePaint two per step: every block boundary case occurs).
d::DeviceLoopOptions observed_device_loop() {
  d::DeviceLoopOptions loop;
  loop.noise_block = 3;
  loop.observe_x = true;
  return loop;
}

class SamplerFixtures : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto model = medport::testing::fixture("diffusion/gd_echogains_small/model.pt");
    if (model.empty()) GTEST_SKIP() << "diffusion fixtures not found";
    const auto ckpt = medport::ckpt::load_torch_checkpoint(model);
    gd::StateDict sd;
    for (const auto& entry : ckpt.tensors) sd.emplace(entry.path, entry.tensor);
    const auto config = gd::infer_unet_config(sd, {}, model.string());
    session_ = std::make_unique<medport::runtime::Session>(medport::graph::to_model_bytes(gd::build_unet_graph(config, sd)));
    model_ = d::session_denoiser(*session_);
  }

  static std::filesystem::path fixture(const std::string& name) {
    return medport::testing::fixture("diffusion/" + name);
  }

  // Runs `sample` with the recorded noise (repeated `batch` times per draw) and compares every step
  // with the recorded samples of the single image.
  void check_steps(const std::string& npz_name, std::size_t batch,
                   const std::function<Tensor(d::NoiseSource&, const Shape&, const d::StepCallback&)>& sample) {
    const auto npz = medport::ckpt::NpzFile::open(fixture(npz_name));
    const Tensor draws = npz.read("noise_draws");
    const Tensor samples = npz.read("samples");
    const std::vector<float> recorded = draws.to_f32();
    const std::vector<float> want = samples.to_f32();
    const Shape image_shape(draws.shape().begin() + 1, draws.shape().end());  // [1, C, H, W]
    const auto image_numel = static_cast<std::size_t>(medport::shape_numel(image_shape));
    std::vector<float> repeated;
    for (std::size_t k = 0; k < recorded.size() / image_numel; ++k) {
      for (std::size_t b = 0; b < batch; ++b) {
        repeated.insert(repeated.end(), recorded.begin() + static_cast<std::ptrdiff_t>(k * image_numel),
                        recorded.begin() + static_cast<std::ptrdiff_t>((k + 1) * image_numel));
      }
    }
    d::RecordedNoise noise(std::move(repeated));
    Shape shape = image_shape;
    shape[0] = static_cast<std::int64_t>(batch);
    std::size_t steps = 0;
    double worst = 0;
    const auto on_step = [&](const d::StepInfo& info) {
      ASSERT_EQ(info.x.size(), image_numel * batch);
      for (std::size_t b = 0; b < batch; ++b) {
        for (std::size_t i = 0; i < image_numel; ++i) {
          const double diff = std::abs(info.x[b * image_numel + i] - want[steps * image_numel + i]);
          worst = std::max(worst, diff);
        }
      }
      ++steps;
    };
    const Tensor result = sample(noise, shape, on_step);
    EXPECT_EQ(steps, static_cast<std::size_t>(samples.shape()[0]));
    EXPECT_EQ(noise.remaining(), 0u);
    EXPECT_LE(worst, kTolerance) << npz_name << " batch " << batch;
    std::printf("%s batch %zu: max abs error over %zu steps %.3g\n", npz_name.c_str(), batch, steps, worst);
    EXPECT_EQ(result.shape(), shape);
  }

  std::unique_ptr<medport::runtime::Session> session_;
  d::DenoiseFn model_;
};

TEST_F(SamplerFixtures, DdpmLinearTenSteps) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 4000, "10");
  for (const std::size_t batch : {1u, 2u}) {
    check_steps("ddpm_linear_10.npz", batch, [&](d::NoiseSource& noise, const Shape& shape, const d::StepCallback& cb) {
      return d::sample_ddpm(process, model_, shape, noise, {}, cb);
    });
  }
}

TEST_F(SamplerFixtures, DdpmLinearTenStepsDeviceLoop) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 4000, "10");
  for (const std::size_t batch : {1u, 2u}) {
    check_steps("ddpm_linear_10.npz", batch, [&](d::NoiseSource& noise, const Shape& shape, const d::StepCallback& cb) {
      return d::sample_ddpm_on_device(process, *session_, shape, noise, {}, observed_device_loop(), cb);
    });
  }
}

TEST_F(SamplerFixtures, DdimCosineEtaZero) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Cosine, 4000, "ddim10");
  check_steps("ddim_cosine_10_eta00.npz", 1, [&](d::NoiseSource& noise, const Shape& shape, const d::StepCallback& cb) {
    return d::sample_ddim(process, model_, shape, noise, 0.0, {}, cb);
  });
}

TEST_F(SamplerFixtures, DdimCosineEtaHalf) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Cosine, 4000, "ddim10");
  for (const std::size_t batch : {1u, 3u}) {
    check_steps("ddim_cosine_10_eta05.npz", batch, [&](d::NoiseSource& noise, const Shape& shape, const d::StepCallback& cb) {
      return d::sample_ddim(process, model_, shape, noise, 0.5, {}, cb);
    });
  }
}

TEST_F(SamplerFixtures, DdimCosineDeviceLoop) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Cosine, 4000, "ddim10");
  check_steps("ddim_cosine_10_eta00.npz", 1, [&](d::NoiseSource& noise, const Shape& shape, const d::StepCallback& cb) {
    return d::sample_ddim_on_device(process, *session_, shape, noise, 0.0, {}, observed_device_loop(), cb);
  });
  for (const std::size_t batch : {1u, 3u}) {
    check_steps("ddim_cosine_10_eta05.npz", batch, [&](d::NoiseSource& noise, const Shape& shape, const d::StepCallback& cb) {
      return d::sample_ddim_on_device(process, *session_, shape, noise, 0.5, {}, observed_device_loop(), cb);
    });
  }
}

TEST_F(SamplerFixtures, RepaintLinearJumps) {
  const auto path = fixture("repaint_linear.npz");
  const auto npz = medport::ckpt::NpzFile::open(path);
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 4000, "20");
  d::RecordedNoise noise = d::RecordedNoise::from_npz(path);
  std::size_t model_steps = 0, undo_steps = 0;
  const Tensor result = d::sample_repaint(process, model_, npz.read("gt"), npz.read("keep_mask"), noise,
                                          {.t_T = 20, .n_sample = 1, .jump_length = 3, .jump_n_sample = 3}, {},
                                          [&](const d::StepInfo& info) { ++(info.undo ? undo_steps : model_steps); });
  const std::vector<float> got = result.to_f32();
  const std::vector<float> want = npz.read("final").to_f32();
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
  EXPECT_LE(worst, kTolerance);
  std::printf("repaint_linear final: max abs error %.3g\n", worst);
  EXPECT_EQ(noise.remaining(), 0u);
  const auto counts = d::count_repaint_steps(d::repaint_times({.t_T = 20, .n_sample = 1, .jump_length = 3, .jump_n_sample = 3}));
  EXPECT_EQ(model_steps, counts.model_calls);
  EXPECT_EQ(undo_steps, counts.undo_steps);
}

// The device loop with nothing downloaded between steps: only the final sample comes back.
TEST_F(SamplerFixtures, RepaintLinearJumpsDeviceLoop) {
  const auto path = fixture("repaint_linear.npz");
  const auto npz = medport::ckpt::NpzFile::open(path);
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 4000, "20");
  const d::JumpSchedule schedule{.t_T = 20, .n_sample = 1, .jump_length = 3, .jump_n_sample = 3};
  const std::vector<float> want = npz.read("final").to_f32();
  for (const std::size_t block : {2u, 3u, 64u}) {
    d::RecordedNoise noise = d::RecordedNoise::from_npz(path);
    d::DeviceLoopOptions loop;
    loop.noise_block = block;
    std::size_t model_steps = 0, undo_steps = 0;
    const Tensor result = d::sample_repaint_on_device(
        process, *session_, npz.read("gt"), npz.read("keep_mask"), noise, schedule, {}, loop, [&](const d::StepInfo& info) {
          EXPECT_TRUE(info.x.empty());
          ++(info.undo ? undo_steps : model_steps);
        });
    const std::vector<float> got = result.to_f32();
    ASSERT_EQ(got.size(), want.size());
    double worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    EXPECT_LE(worst, kTolerance) << "noise block " << block;
    std::printf("repaint_linear final on the device loop, noise block %zu: max abs error %.3g\n", block, worst);
    EXPECT_EQ(noise.remaining(), 0u);
    const auto counts = d::count_repaint_steps(d::repaint_times(schedule));
    EXPECT_EQ(model_steps, counts.model_calls);
    EXPECT_EQ(undo_steps, counts.undo_steps);
  }
}

TEST_F(SamplerFixtures, DeviceLoopRefusesMismatchedInputs) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 4000, "10");
  d::TorchNoise noise(0);
  EXPECT_THROW(d::sample_ddpm_on_device(process, *session_, {1, 3, 32}, noise), medport::UsageError);
  EXPECT_THROW(d::sample_ddim_on_device(process, *session_, {1, 3, 32, 32}, noise, -1.0), medport::UsageError);
  EXPECT_THROW(d::sample_ddpm_on_device(process, *session_, {1, 3, 32, 32}, noise, {.variance = d::VarianceType::FixedSmall}),
               medport::InputError);
  const Tensor gt = Tensor::zeros(medport::DType::F32, {1, 3, 32, 32});
  EXPECT_THROW(d::sample_repaint_on_device(process, *session_, gt, Tensor::zeros(medport::DType::F32, {1, 3, 16, 16}),
                                           noise, {.t_T = 10}),
               medport::InputError);
  EXPECT_THROW(d::sample_repaint_on_device(process, *session_, gt, gt, noise, {.t_T = 250}), medport::UsageError);
}

TEST_F(SamplerFixtures, RefusesMismatchedInputs) {
  const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 4000, "10");
  d::TorchNoise noise(0);
  EXPECT_THROW(d::sample_ddpm(process, model_, {1, 3, 32}, noise), medport::UsageError);
  // Fixed variance expects 3 output channels; the model gives 6.
  EXPECT_THROW(d::sample_ddpm(process, model_, {1, 3, 32, 32}, noise, {.variance = d::VarianceType::FixedSmall}),
               medport::InputError);
  const Tensor gt = Tensor::zeros(medport::DType::F32, {1, 3, 32, 32});
  EXPECT_THROW(d::sample_repaint(process, model_, gt, Tensor::zeros(medport::DType::F32, {1, 3, 16, 16}), noise,
                                 {.t_T = 10}),
               medport::InputError);
  EXPECT_THROW(d::sample_repaint(process, model_, gt, gt, noise, {.t_T = 250}), medport::UsageError);
}

}  // namespace
