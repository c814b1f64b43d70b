#include "diffusion_flags.hpp"

#include <algorithm>

#include "medport/error.hpp"

namespace medport::cli {

void add_diffusion_flags(CLI::App& cmd, DiffusionFlags& f, const std::string& respacing_help) {
  cmd.add_option("model", f.model, "ONNX UNet written by `medport convert` (reads MODEL.medport.json)")->required();
  cmd.add_option("--seed", f.seed, "torch.manual_seed value: the same draws as torch.randn on CPU");
  cmd.add_option("--noise-npz", f.noise_npz, "replay recorded draws ('noise_draws' [+ 'noise_draw_shapes'])");
  cmd.add_option("--diffusion-steps", f.diffusion_steps, "steps of the trained process")->check(CLI::Range(1, 1000000));
  cmd.add_option("--schedule", f.schedule, "noise schedule: linear | cosine");
  cmd.add_option("--respacing", f.respacing, respacing_help);
  cmd.add_option("--variance", f.variance, "learned_range | fixed_small | fixed_large");
  cmd.add_option("--threads", f.threads, "intra-op threads (0: ONNX Runtime default)")->check(CLI::NonNegativeNumber);
  add_provider_flags(cmd, f.device);
  auto* device_loop = cmd.add_flag("--device-loop", f.device_loop,
                                   "run the sampling loop on the UNet's device: only the final image leaves it "
                                   "(default with --provider cuda)");
  cmd.add_flag("--host-loop", f.host_loop, "run the sampling loop on the host (default with --provider cpu)")
      ->excludes(device_loop);
  cmd.add_flag("--cuda-graph", f.cuda_graph,
               "replay the UNet calls as CUDA graphs (--provider cuda with the device loop; fixed shapes)");
  cmd.add_option("--noise-block", f.noise_block, "device loop: Gaussian draws uploaded at once")
      ->check(CLI::Range(2, 4096));
  cmd.add_flag("-q,--quiet", f.quiet, "no progress bar");
}

void check_generation_size(std::int64_t batch, std::int64_t channels, std::int64_t height, std::int64_t width,
                           std::int64_t trained_size) {
  const std::int64_t side = std::max(height, width);
  if (trained_size > 0 && side > 2 * trained_size)
    throw UsageError("an image side of " + std::to_string(side) + " pixels is more than twice the " +
                     std::to_string(trained_size) + " the model was trained at");
  const double values = static_cast<double>(batch) * static_cast<double>(channels) * static_cast<double>(height) *
                        static_cast<double>(width);
  if (values > kMaxGeneratedValues)
    throw UsageError(std::to_string(batch) + " image(s) of " + std::to_string(channels) + " x " + std::to_string(height) +
                     " x " + std::to_string(width) + " are more than the 2^24 values medport generates at once; "
                     "use a smaller --batch or size");
}

LoopChoice loop_choice(const DiffusionFlags& f) {
  LoopChoice choice;
  choice.on_device = f.device_loop || (!f.host_loop && f.device.provider == "cuda");
  if (f.cuda_graph && !(choice.on_device && f.device.provider == "cuda"))
    throw UsageError("--cuda-graph needs --provider cuda and the device loop");
  choice.options.noise_block = f.noise_block;
  choice.options.cuda_graphs = f.cuda_graph;
  return choice;
}

runtime::SessionOptions unet_session_options(const DiffusionFlags& f) {
  runtime::SessionOptions options = session_options(f.device, f.threads);
  options.cuda.cuda_graph = f.cuda_graph;
  return options;
}

diffusion::DiffusionSettings settings_with_overrides(const DiffusionFlags& f) {
  namespace d = medport::diffusion;
  d::DiffusionSettings s = d::settings_for_model(f.model);
  if (f.diffusion_steps > 0) s.diffusion_steps = f.diffusion_steps;
  if (!f.schedule.empty()) s.schedule = d::parse_noise_schedule(f.schedule);
  if (!f.respacing.empty()) s.respacing = f.respacing;
  if (!f.variance.empty()) s.sampler.variance = d::parse_variance_type(f.variance);
  return s;
}

}  // namespace medport::cli
