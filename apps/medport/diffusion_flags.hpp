#pragma once
// Flags `medport sample` and `medport inpaint` share: the model, its process, the noise and where
// the sampling loop runs.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "medport/pipelines/diffusion/device_sampler.hpp"
#include "medport/pipelines/diffusion/settings.hpp"
#include "provider_flags.hpp"

namespace medport::cli {

struct DiffusionFlags {
  std::string model, noise_npz, schedule, respacing, variance;
  ProviderFlags device;
  std::uint64_t seed = 0;
  int diffusion_steps = 0, threads = 0;
  bool quiet = false;
  bool device_loop = false, host_loop = false, cuda_graph = false;
  std::size_t noise_block = 16;
};

// Where the sampling loop runs: on the UNet's device (the default with --provider cuda, or
// --device-loop) or on the host (the default on the CPU, or --host-loop).
struct LoopChoice {
  bool on_device = false;
  diffusion::DeviceLoopOptions options;
};
LoopChoice loop_choice(const DiffusionFlags& flags);
// Session options of the UNet: provider and device, CUDA graphs with --cuda-graph.
runtime::SessionOptions unet_session_options(const DiffusionFlags& flags);

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
