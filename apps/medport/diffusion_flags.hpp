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
// The model's sidecar settings with the command-line overrides applied.
diffusion::DiffusionSettings settings_with_overrides(const DiffusionFlags& flags);

}  // namespace medport::cli
