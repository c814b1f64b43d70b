#pragma once
// Ancestral DDPM, DDIM and RePaint sampling loops of guided-diffusion / RePaint on the host, with
// the denoising network as a callback. Arithmetic is float32 per element like the upstream torch
// code (tables from the float64 DiffusionProcess, cast to float when used); Gaussian draws come
// from a NoiseSource in upstream's exact order, so a TorchNoise seed reproduces a PyTorch run.
#include <cstdint>
#include <functional>
#include <span>

#include "medport/pipelines/diffusion/noise_source.hpp"
#include "medport/pipelines/diffusion/schedule.hpp"
#include "medport/tensor.hpp"

namespace medport::diffusion {

// (x [N,C,H,W] float32, model timesteps [N] int64) -> [N,2C,H,W] (learned variance) or [N,C,H,W].
using DenoiseFn = std::function<Tensor(const Tensor& x, const Tensor& timesteps)>;

enum class VarianceType {
  LearnedRange,  // second half of the output channels, frac = (v + 1) / 2 between the log bounds
  FixedSmall,    // posterior variance (clipped log)
  FixedLarge,    // betas (with the posterior variance at step 0)
};

struct SamplerOptions {
  VarianceType variance = VarianceType::LearnedRange;
  bool clip_denoised = true;  // clamp the predicted x0 to [-1, 1]
};

struct StepInfo {
  std::size_t index = 0;  // 0-based transition counter
  std::size_t total = 0;  // transitions in the whole run
  int t = 0;              // respaced step the transition starts from
  bool undo = false;      // RePaint re-noising step (no model call)
  std::span<const float> x;  // the sample after the transition
};
using StepCallback = std::function<void(const StepInfo&)>;

// x_T = the first draw, then for t = T-1..0: model, draw z, x <- mean + sigma z.
Tensor sample_ddpm(const DiffusionProcess& process, const DenoiseFn& model, const Shape& shape, NoiseSource& noise,
                   const SamplerOptions& options = {}, const StepCallback& on_step = {});
// DDIM with eta (0: deterministic; a noise draw is still taken every step, as upstream does).
Tensor sample_ddim(const DiffusionProcess& process, const DenoiseFn& model, const Shape& shape, NoiseSource& noise,
                   double eta, const SamplerOptions& options = {}, const StepCallback& on_step = {});

// RePaint's get_schedule_jump (defaults: EchoGAINS / RePaint confs).
struct JumpSchedule {
  int t_T = 250;
  int n_sample = 1;
  int jump_length = 10;
  int jump_n_sample = 10;
  int jump2_length = 1;
  int jump2_n_sample = 1;
  int jump3_length = 1;
  int jump3_n_sample = 1;
  int start_resampling = 100000000;
};
// The time sequence t_T-1, ..., -1 (every neighbour differs by 1). Throws UsageError on
// parameters that make no schedule.
std::vector<int> repaint_times(const JumpSchedule& schedule);
struct RepaintCounts {
  std::size_t model_calls = 0;
  std::size_t undo_steps = 0;
};
RepaintCounts count_repaint_steps(std::span<const int> times);

// RePaint inpainting: gt [N,C,H,W] in [-1,1]; keep_mask 1 = known (kept) pixel, 0 = generated,
// shaped like gt or broadcast over batch ([1,...]) and/or channels ([.,1,H,W]).
// `schedule.t_T` must not exceed the process's step count.
Tensor sample_repaint(const DiffusionProcess& process, const DenoiseFn& model, const Tensor& gt,
                      const Tensor& keep_mask, NoiseSource& noise, const JumpSchedule& schedule = {},
                      const SamplerOptions& options = {}, const StepCallback& on_step = {});

}  // namespace medport::diffusion
