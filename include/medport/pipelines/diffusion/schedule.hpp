#pragma once
// Noise schedules and the respaced diffusion process of openai/guided-diffusion (and RePaint),
// computed in float64 exactly as upstream does with NumPy: base betas, space_timesteps,
// the respaced betas 1 - abar[map_k] / abar[map_(k-1)] and every derived table.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace medport::diffusion {

enum class NoiseSchedule { Linear, Cosine };

// "linear" | "cosine"; throws UsageError otherwise.
NoiseSchedule parse_noise_schedule(std::string_view name);
std::string_view noise_schedule_name(NoiseSchedule schedule);

// Betas of the full process. Linear: linspace(s * 1e-4, s * 0.02, steps) with s = 1000 / steps
// (guided-diffusion always scales; RePaint's use_scale=false keeps s = 1). Cosine: the
// alpha-bar form with offset 0.008 and betas capped at 0.999.
std::vector<double> base_betas(NoiseSchedule schedule, int num_steps, bool linear_use_scale = true);

// guided-diffusion's space_timesteps: "250" or "10,15,20" (sections of the process with that many
// evenly spaced steps each, Python rounding) or "ddimN" (a constant stride giving N steps).
// Returns the kept timesteps in increasing order. Throws UsageError when impossible.
std::vector<std::int64_t> space_timesteps(int num_steps, std::string_view section_counts);

// Every table a sampler needs, indexed by the respaced step k.
struct DiffusionProcess {
  std::vector<std::int64_t> timestep_map;  // step k -> timestep of the original process (model input)
  std::vector<double> betas;
  std::vector<double> alphas_cumprod;
  std::vector<double> alphas_cumprod_prev;
  std::vector<double> posterior_variance;
  std::vector<double> posterior_log_variance_clipped;
  std::vector<double> posterior_mean_coef1;
  std::vector<double> posterior_mean_coef2;
  std::vector<double> sqrt_recip_alphas_cumprod;
  std::vector<double> sqrt_recipm1_alphas_cumprod;

  int num_steps() const { return static_cast<int>(betas.size()); }

  // GaussianDiffusion's tables for these betas (map defaults to 0..n-1).
  static DiffusionProcess from_betas(std::vector<double> betas, std::vector<std::int64_t> timestep_map = {});
};

// SpacedDiffusion: the full process of `diffusion_steps` respaced by `respacing` ("" keeps all).
DiffusionProcess make_diffusion_process(NoiseSchedule schedule, int diffusion_steps, std::string_view respacing,
                                        bool linear_use_scale = true);

}  // namespace medport::diffusion
