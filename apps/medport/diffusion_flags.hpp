#pragma once
// Flags `medport sample` and `medport inpaint` share: the model, its process and the noise.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "medport/pipelines/diffusion/settings.hpp"

namespace medport::cli {

struct DiffusionFlags {
  std::string model, noise_npz, schedule, respacing, variance, provider = "cpu";
  std::uint64_t seed = 0;
  int diffusion_steps = 0, threads = 0;
  bool quiet = false;
};

void add_diffusion_flags(CLI::App& cmd, DiffusionFlags& flags, const std::string& respacing_help);
// Time and memory grow with batch x channels x height x width (the UNet's activations many times
// that): refused (UsageError) beyond kMaxGeneratedValues values, or beyond twice the image size
// the model was trained at (`trained_size`, 0 when the sidecar does not record it).
inline constexpr double kMaxGeneratedValues = 16777216.0;  // 2^24
void check_generation_size(std::int64_t batch, std::int64_t channels, std::int64_t height, std::int64_t width,
                           std::int64_t trained_size);
// The model's sidecar settings with the command-line overrides applied.
diffusion::DiffusionSettings settings_with_overrides(const DiffusionFlags& flags);

}  // namespace medport::cli
