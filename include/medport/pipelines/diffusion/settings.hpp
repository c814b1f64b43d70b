#pragma once
// Sampling settings for a compiled UNet: the defaults `medport convert` recorded in
// MODEL.medport.json (EchoGAINS: linear, 4000 steps respaced to 250, RePaint 10 x 10), which the
// CLI flags then override. Also a throttled text progress bar for the sampling loops.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "medport/pipelines/diffusion/samplers.hpp"
#include "medport/pipelines/diffusion/schedule.hpp"

namespace medport::diffusion {

struct DiffusionSettings {
  int diffusion_steps = 4000;
  NoiseSchedule schedule = NoiseSchedule::Linear;
  std::string respacing = "250";
  SamplerOptions sampler;
  JumpSchedule repaint;
  std::int64_t in_channels = 3;
  std::int64_t spatial_multiple = 1;
  std::int64_t image_size = 0;  // 0: unknown
};

// "learned_range" | "fixed_small" | "fixed_large"; UsageError otherwise.
VarianceType parse_variance_type(const std::string& name);

// Reads the sidecar next to the model (MODEL.medport.json) when there is one; defaults otherwise.
// Throws InputError for a sidecar that is not valid JSON.
DiffusionSettings settings_for_model(const std::filesystem::path& onnx_path);

// "\r[#####-----]  120/2410  5.0 s, 41.7 ms/step" on a stream, redrawn at most every 100 ms.
class ProgressBar {
 public:
  explicit ProgressBar(std::FILE* stream, std::string label) : stream_(stream), label_(std::move(label)) {}
  void update(std::size_t done, std::size_t total);
  void finish();
  StepCallback callback();

 private:
  std::FILE* stream_;
  std::string label_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
  std::size_t done_ = 0, total_ = 0;
  bool drawn_ = false;
  void draw();
};

}  // namespace medport::diffusion
