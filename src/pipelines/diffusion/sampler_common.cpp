#include "sampler_common.hpp"

#include <algorithm>
#include <cmath>

#include "medport/error.hpp"

namespace medport::diffusion::detail {

std::size_t checked_numel(const Shape& shape) {
  if (shape.size() != 4) throw UsageError("diffusion samples must be [N, C, H, W], got " + shape_string(shape));
  for (const std::int64_t d : shape) {
    if (d < 1 || d > (std::int64_t{1} << 20)) throw UsageError("invalid sample shape " + shape_string(shape));
  }
  const std::int64_t numel = shape_numel(shape);
  if (numel > (std::int64_t{1} << 31)) throw UsageError("sample shape " + shape_string(shape) + " is too large");
  return static_cast<std::size_t>(numel);
}

void check_process(const DiffusionProcess& process) {
  const std::size_t n = process.betas.size();
  if (n == 0 || process.timestep_map.size() != n || process.alphas_cumprod.size() != n ||
      process.sqrt_recip_alphas_cumprod.size() != n || process.posterior_log_variance_clipped.size() != n) {
    throw UsageError("incomplete diffusion process tables");
  }
}

std::int64_t model_out_channels(const Shape& shape, const SamplerOptions& options) {
  return options.variance == VarianceType::LearnedRange ? 2 * shape[1] : shape[1];
}

StepConstants step_constants(const DiffusionProcess& p, int t, VarianceType variance) {
  const auto k = static_cast<std::size_t>(t);
  StepConstants c;
  c.sqrt_recip = static_cast<float>(p.sqrt_recip_alphas_cumprod[k]);
  c.sqrt_recipm1 = static_cast<float>(p.sqrt_recipm1_alphas_cumprod[k]);
  c.coef1 = static_cast<float>(p.posterior_mean_coef1[k]);
  c.coef2 = static_cast<float>(p.posterior_mean_coef2[k]);
  c.log_max = static_cast<float>(std::log(p.betas[k]));
  c.log_min = static_cast<float>(p.posterior_log_variance_clipped[k]);
  if (variance == VarianceType::FixedSmall) {
    c.fixed_log_variance = c.log_min;
  } else if (variance == VarianceType::FixedLarge) {
    const double v = (k == 0 && p.num_steps() > 1) ? p.posterior_variance[1] : p.betas[k];
    c.fixed_log_variance = static_cast<float>(std::log(v));
  }
  return c;
}

DdimConstants ddim_constants(const DiffusionProcess& p, int t, double eta) {
  const auto k = static_cast<std::size_t>(t);
  const auto abar = static_cast<float>(p.alphas_cumprod[k]);
  const auto abar_prev = static_cast<float>(p.alphas_cumprod_prev[k]);
  const float sigma =
      static_cast<float>(eta) * std::sqrt((1.0f - abar_prev) / (1.0f - abar)) * std::sqrt(1.0f - abar / abar_prev);
  DdimConstants c;
  c.sqrt_abar_prev = std::sqrt(abar_prev);
  c.eps_scale = std::sqrt(1.0f - abar_prev - sigma * sigma);
  c.noise_scale = t != 0 ? sigma : 0.0f;
  return c;
}

MergeConstants merge_constants(const DiffusionProcess& p, int k) {
  const auto abar = static_cast<float>(p.alphas_cumprod[static_cast<std::size_t>(k)]);
  return {std::sqrt(abar), std::sqrt(1.0f - abar)};
}

UndoConstants undo_constants(const DiffusionProcess& p, int t_last) {
  const auto beta = static_cast<float>(p.betas[static_cast<std::size_t>(t_last + 1)]);
  return {std::sqrt(1.0f - beta), std::sqrt(beta)};
}

std::vector<float> expand_keep_mask(const Tensor& keep_mask, const Shape& shape) {
  const Shape& ms = keep_mask.shape();
  if (ms.size() != 4 || (ms[0] != shape[0] && ms[0] != 1) || (ms[1] != shape[1] && ms[1] != 1) ||
      ms[2] != shape[2] || ms[3] != shape[3]) {
    throw InputError("keep mask", "shape " + shape_string(ms) + " does not broadcast to the image shape " +
                                      shape_string(shape));
  }
  const auto batch = static_cast<std::size_t>(shape[0]);
  const auto channels = static_cast<std::size_t>(shape[1]);
  const auto plane = static_cast<std::size_t>(shape[2] * shape[3]);
  const std::vector<float> mask_small = keep_mask.to_f32();
  std::vector<float> mask(batch * channels * plane);
  for (std::size_t n = 0; n < batch; ++n) {
    for (std::size_t ch = 0; ch < channels; ++ch) {
      const std::size_t src = ((ms[0] == 1 ? 0 : n) * static_cast<std::size_t>(ms[1]) + (ms[1] == 1 ? 0 : ch)) * plane;
      std::copy_n(mask_small.begin() + static_cast<std::ptrdiff_t>(src), plane,
                  mask.begin() + static_cast<std::ptrdiff_t>((n * channels + ch) * plane));
    }
  }
  return mask;
}

std::size_t ddpm_draws(const DiffusionProcess& process) { return 1 + static_cast<std::size_t>(process.num_steps()); }

std::size_t repaint_draws(std::span<const int> times) {
  std::size_t draws = 1;  // x_T
  bool have_x0 = false;
  for (std::size_t i = 0; i + 1 < times.size(); ++i) {
    if (times[i + 1] < times[i]) {
      draws += have_x0 ? 2 : 1;  // z, then the known region's z' once there is an x0
      have_x0 = true;
    } else {
      draws += 1;
    }
  }
  return draws;
}

}  // namespace medport::diffusion::detail
