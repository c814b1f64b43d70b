// Per-step cost of guided-diffusion sampling in medport, split into the UNet call (ONNX Runtime)
// and the host work around it (noise draws + update arithmetic, measured with a zero model).
//
//   bench_diffusion_step MODEL.onnx BATCH THREADS CALLS [SIZE]
//
// Prints one line of JSON: session_s, model_ms (median of CALLS after one warm-up),
// host_ddpm_ms (per step of the 250-step DDPM), host_repaint_ms (per model call of the
// EchoGAINS 250/10/10 RePaint schedule).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "medport/pipelines/diffusion/noise_source.hpp"
#include "medport/pipelines/diffusion/onnx_denoiser.hpp"
#include "medport/pipelines/diffusion/samplers.hpp"
#include "medport/pipelines/diffusion/schedule.hpp"
#include "bench_provider.hpp"
#include "medport/runtime/session.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

int main(int argc, char** argv) {
  using namespace medport;
  namespace d = medport::diffusion;
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s MODEL.onnx BATCH THREADS CALLS [SIZE]\n", argv[0]);
    return 2;
  }
  const std::int64_t batch = std::atoll(argv[2]);
  const int threads = std::atoi(argv[3]);
  const int calls = std::max(1, std::atoi(argv[4]));
  const std::int64_t size = argc > 5 ? std::atoll(argv[5]) : 256;
  const Shape shape{batch, 3, size, size};

  const runtime::SessionOptions options = bench::bench_session_options(threads);
  auto start = Clock::now();
  const runtime::Session session(argv[1], options);
  const double session_s = since(start);
  const d::DenoiseFn model = d::session_denoiser(session);

  d::TorchNoise noise(0);
  std::vector<float> xs(static_cast<std::size_t>(batch * 3 * size * size));
  noise.fill(xs);
  const Tensor x = Tensor::from_f32(shape, xs);
  const std::vector<std::int64_t> steps(static_cast<std::size_t>(batch), 1234);
  const Tensor t = Tensor::from_bytes(DType::I64, {batch}, std::as_bytes(std::span<const std::int64_t>(steps)));
  model(x, t);  // warm-up
  std::vector<double> times;
  for (int i = 0; i < calls; ++i) {
    start = Clock::now();
    model(x, t);
    times.push_back(since(start) * 1e3);
  }
  std::sort(times.begin(), times.end());
  const double model_ms = times[times.size() / 2];

  // Host work only: a model that returns zeros of the learned-sigma shape.
  const Tensor zeros = Tensor::from_f32({batch, 6, size, size}, std::vector<float>(xs.size() * 2, 0.0f));
  const d::DenoiseFn zero_model = [&](const Tensor&, const Tensor&) { return zeros; };
  const d::DiffusionProcess process = d::make_diffusion_process(d::NoiseSchedule::Linear, 4000, "250");
  start = Clock::now();
  d::sample_ddpm(process, zero_model, shape, noise);
  const double host_ddpm_ms = since(start) * 1e3 / 250.0;

  const d::JumpSchedule jumps;  // EchoGAINS: t_T 250, jump 10 x 10
  const d::RepaintCounts counts = d::count_repaint_steps(d::repaint_times(jumps));
  const Tensor mask = Tensor::from_f32({1, 1, size, size}, std::vector<float>(static_cast<std::size_t>(size * size), 1.0f));
  start = Clock::now();
  d::sample_repaint(process, zero_model, x, mask, noise, jumps);
  const double host_repaint_ms = since(start) * 1e3 / static_cast<double>(counts.model_calls);

  std::printf(
      "{\"batch\": %lld, \"threads\": %d, \"session_s\": %.3f, \"model_ms\": %.1f, \"host_ddpm_ms\": %.2f, "
      "\"host_repaint_ms\": %.2f, \"repaint_calls\": %zu}\n",
      static_cast<long long>(batch), threads, session_s, model_ms, host_ddpm_ms, host_repaint_ms, counts.model_calls);
  return 0;
}
