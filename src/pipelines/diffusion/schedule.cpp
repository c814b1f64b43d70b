#include "medport/pipelines/diffusion/schedule.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>
#include <set>

#include "medport/error.hpp"

namespace medport::diffusion {
namespace {

constexpr int kMaxSteps = 1'000'000;

int parse_count(std::string_view text, std::string_view whole) {
  int value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < 0 || value > kMaxSteps) {
    throw UsageError("timestep respacing '" + std::string(whole) + "': '" + std::string(text) +
                     "' is not a step count");
  }
  return value;
}

double cosine_alpha_bar(double u) {
  const double c = std::cos((u + 0.008) / 1.008 * std::numbers::pi / 2.0);
  return c * c;
}

}  // namespace

NoiseSchedule parse_noise_schedule(std::string_view name) {
  if (name == "linear") return NoiseSchedule::Linear;
  if (name == "cosine") return NoiseSchedule::Cosine;
  throw UsageError("unknown noise schedule '" + std::string(name) + "' (expected linear or cosine)");
}

std::string_view noise_schedule_name(NoiseSchedule schedule) {
  return schedule == NoiseSchedule::Linear ? "linear" : "cosine";
}

std::vector<double> base_betas(NoiseSchedule schedule, int num_steps, bool linear_use_scale) {
  if (num_steps < 1 || num_steps > kMaxSteps) {
    throw UsageError("diffusion steps must be in 1.." + std::to_string(kMaxSteps));
  }
  std::vector<double> betas(static_cast<std::size_t>(num_steps));
  if (schedule == NoiseSchedule::Linear) {
    const double scale = linear_use_scale ? 1000.0 / num_steps : 1.0;
    const double start = scale * 0.0001;
    const double stop = scale * 0.02;
    if (num_steps == 1) {
      betas[0] = start;
      return betas;
    }
    // numpy.linspace: i * step + start, the last value set to stop.
    const double step = (stop - start) / (num_steps - 1);
    for (int i = 0; i < num_steps; ++i) betas[static_cast<std::size_t>(i)] = i * step + start;
    betas.back() = stop;
    return betas;
  }
  for (int i = 0; i < num_steps; ++i) {
    const double t1 = static_cast<double>(i) / num_steps;
    const double t2 = static_cast<double>(i + 1) / num_steps;
    betas[static_cast<std::size_t>(i)] = std::min(1.0 - cosine_alpha_bar(t2) / cosine_alpha_bar(t1), 0.999);
  }
  return betas;
}

std::vector<std::int64_t> space_timesteps(int num_steps, std::string_view section_counts) {
  if (num_steps < 1 || num_steps > kMaxSteps) {
    throw UsageError("diffusion steps must be in 1.." + std::to_string(kMaxSteps));
  }
  std::set<std::int64_t> kept;
  if (section_counts.starts_with("ddim")) {
    const int desired = parse_count(section_counts.substr(4), section_counts);
    for (int stride = 1; stride < num_steps; ++stride) {
      if ((num_steps + stride - 1) / stride == desired) {
        std::vector<std::int64_t> steps;
        for (int t = 0; t < num_steps; t += stride) steps.push_back(t);
        return steps;
      }
    }
    throw UsageError("cannot create exactly " + std::to_string(desired) + " steps with an integer stride of " +
                     std::to_string(num_steps));
  }
  std::vector<int> counts;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = section_counts.find(',', begin);
    counts.push_back(parse_count(section_counts.substr(begin, comma == std::string_view::npos ? comma : comma - begin),
                                 section_counts));
    if (comma == std::string_view::npos) break;
    begin = comma + 1;
  }
  if (counts.size() > static_cast<std::size_t>(num_steps)) {
    throw UsageError("timestep respacing '" + std::string(section_counts) + "' has more sections than steps");
  }
  const int sections = static_cast<int>(counts.size());
  const int size_per = num_steps / sections;
  const int extra = num_steps % sections;
  int start = 0;
  for (int i = 0; i < sections; ++i) {
    const int size = size_per + (i < extra ? 1 : 0);
    const int count = counts[static_cast<std::size_t>(i)];
    if (size < count) {
      throw UsageError("cannot divide a section of " + std::to_string(size) + " steps into " +
                       std::to_string(count));
    }
    const double stride = count <= 1 ? 1.0 : static_cast<double>(size - 1) / (count - 1);
    double position = 0.0;  // accumulated like upstream, rounded half to even like Python's round
    for (int k = 0; k < count; ++k) {
      kept.insert(start + static_cast<std::int64_t>(std::nearbyint(position)));
      position += stride;
    }
    start += size;
  }
  return {kept.begin(), kept.end()};
}

DiffusionProcess DiffusionProcess::from_betas(std::vector<double> betas, std::vector<std::int64_t> timestep_map) {
  const std::size_t n = betas.size();
  if (n == 0) throw UsageError("a diffusion process needs at least one step");
  if (timestep_map.empty()) {
    for (std::size_t k = 0; k < n; ++k) timestep_map.push_back(static_cast<std::int64_t>(k));
  }
  if (timestep_map.size() != n) throw UsageError("timestep map and betas differ in length");
  DiffusionProcess p;
  p.timestep_map = std::move(timestep_map);
  p.alphas_cumprod.resize(n);
  p.alphas_cumprod_prev.resize(n);
  p.posterior_variance.resize(n);
  p.posterior_log_variance_clipped.resize(n);
  p.posterior_mean_coef1.resize(n);
  p.posterior_mean_coef2.resize(n);
  p.sqrt_recip_alphas_cumprod.resize(n);
  p.sqrt_recipm1_alphas_cumprod.resize(n);
  double cumprod = 1.0;
  for (std::size_t k = 0; k < n; ++k) {
    p.alphas_cumprod_prev[k] = cumprod;
    cumprod *= 1.0 - betas[k];
    p.alphas_cumprod[k] = cumprod;
  }
  for (std::size_t k = 0; k < n; ++k) {
    const double abar = p.alphas_cumprod[k];
    const double abar_prev = p.alphas_cumprod_prev[k];
    p.sqrt_recip_alphas_cumprod[k] = std::sqrt(1.0 / abar);
    p.sqrt_recipm1_alphas_cumprod[k] = std::sqrt(1.0 / abar - 1.0);
    p.posterior_variance[k] = betas[k] * (1.0 - abar_prev) / (1.0 - abar);
    p.posterior_mean_coef1[k] = betas[k] * std::sqrt(abar_prev) / (1.0 - abar);
    p.posterior_mean_coef2[k] = (1.0 - abar_prev) * std::sqrt(1.0 - betas[k]) / (1.0 - abar);
  }
  // The first posterior variance is 0; upstream clips its log by repeating the second.
  for (std::size_t k = 0; k < n; ++k) {
    const double v = (k == 0 && n > 1) ? p.posterior_variance[1] : p.posterior_variance[k];
    p.posterior_log_variance_clipped[k] = std::log(v);
  }
  p.betas = std::move(betas);
  return p;
}

DiffusionProcess make_diffusion_process(NoiseSchedule schedule, int diffusion_steps, std::string_view respacing,
                                        bool linear_use_scale) {
  const std::vector<double> full = base_betas(schedule, diffusion_steps, linear_use_scale);
  const std::vector<std::int64_t> kept =
      respacing.empty() ? space_timesteps(diffusion_steps, std::to_string(diffusion_steps))
                        : space_timesteps(diffusion_steps, respacing);
  std::vector<double> betas;
  double cumprod = 1.0;
  double last_kept = 1.0;
  std::size_t next = 0;
  for (int i = 0; i < diffusion_steps && next < kept.size(); ++i) {
    cumprod *= 1.0 - full[static_cast<std::size_t>(i)];
    if (kept[next] == i) {
      betas.push_back(1.0 - cumprod / last_kept);
      last_kept = cumprod;
      ++next;
    }
  }
  return DiffusionProcess::from_betas(std::move(betas), kept);
}

}  // namespace medport::diffusion
