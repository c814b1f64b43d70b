#pragma once
// What the host sampler loops (samplers.cpp) and the device-resident loops (device_sampler.cpp)
// share: argument checks, the per-step constants in float32 exactly as upstream casts them, the
// keep-mask broadcast and the number of Gaussian draws a run takes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "medport/pipelines/diffusion/samplers.hpp"
#include "medport/pipelines/diffusion/schedule.hpp"
#include "medport/tensor.hpp"

namespace medport::diffusion::detail {

// Element count of an [N, C, H, W] sample shape; UsageError for anything else or too large.
std::size_t checked_numel(const Shape& shape);
void check_process(const DiffusionProcess& process);
// Channels the model must output: 2C for the learned range, C otherwise.
std::int64_t model_out_channels(const Shape& shape, const SamplerOptions& options);

// The process tables at one step, cast to float32 as upstream's _extract_into_tensor does.
struct StepConstants {
  float sqrt_recip = 0, sqrt_recipm1 = 0, coef1 = 0, coef2 = 0;
  float log_max = 0, log_min = 0;  // learned range bounds
  float fixed_log_variance = 0;
};
StepConstants step_constants(const DiffusionProcess& p, int t, VarianceType variance);

struct DdimConstants {
  float sqrt_abar_prev = 0, eps_scale = 0, noise_scale = 0;
};
DdimConstants ddim_constants(const DiffusionProcess& p, int t, double eta);

// RePaint's known region re-noised to level k: sqrt(abar_k) gt + sqrt(1 - abar_k) z.
struct MergeConstants {
  float gt_weight = 0, noise_weight = 0;
};
MergeConstants merge_constants(const DiffusionProcess& p, int k);
// RePaint's undo step from t_last to t_last + 1: sqrt(1 - beta) x + sqrt(beta) z.
struct UndoConstants {
  float keep = 0, add = 0;
};
UndoConstants undo_constants(const DiffusionProcess& p, int t_last);

// keep_mask ([N or 1, C or 1, H, W]) expanded to the full image shape; InputError otherwise.
std::vector<float> expand_keep_mask(const Tensor& keep_mask, const Shape& shape);

// Gaussian draws of a whole run, in upstream's order (x_T first).
std::size_t ddpm_draws(const DiffusionProcess& process);
std::size_t repaint_draws(std::span<const int> times);

}  // namespace medport::diffusion::detail
