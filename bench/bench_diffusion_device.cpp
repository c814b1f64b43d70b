// Guided-diffusion on the provider's device (bench/gpu/run_device_checks.sh):
//   - UNet latency with x, t and the output bound in device memory (IO binding; CUDA graph replay
//     with MEDPORT_BENCH_CUDA_GRAPH=1), median of CALLS after a warm-up;
//   - with CUDA, the first call's output against the CPU provider's (max relative error), BATCH 1;
//   - with REPAINT_CALLS > 0, a whole RePaint run on the device loop (EchoGAINS t_T 250, jump
//     10 x 10: 2410 UNet calls; fewer with a smaller t_T) timed end to end, per image.
//
//   bench_diffusion_device MODEL.onnx BATCH CALLS [SIZE] [T_T] [PARITY]
//
// Provider from MEDPORT_BENCH_PROVIDER / MEDPORT_BENCH_DEVICE (bench_provider.hpp). Prints one
// line of JSON.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench_provider.hpp"
#include "medport/pipelines/diffusion/device_sampler.hpp"
#include "medport/pipelines/diffusion/noise_source.hpp"
#include "medport/pipelines/diffusion/schedule.hpp"
#include "medport/runtime/device.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

}  // namespace

int main(int argc, char** argv) {
  using namespace medport;
  namespace d = medport::diffusion;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL.onnx BATCH CALLS [SIZE] [T_T] [PARITY]\n", argv[0]);
    return 2;
  }
  const std::int64_t batch = std::atoll(argv[2]);
  const int calls = std::max(1, std::atoi(argv[3]));
  const std::int64_t size = argc > 4 ? std::atoll(argv[4]) : 256;
  const int t_T = argc > 5 ? std::atoi(argv[5]) : 0;
  const bool parity = argc > 6 && std::atoi(argv[6]) != 0;
  const runtime::SessionOptions options = bench::bench_session_options(0);
  const runtime::Session unet(argv[1], options);
  const Shape shape{batch, 3, size, size};

  d::TorchNoise noise(0);
  std::vector<float> values(static_cast<std::size_t>(shape_numel(shape)));
  noise.fill(values);
  const Tensor x_host = Tensor::from_f32(shape, values);
  std::vector<std::int64_t> steps(static_cast<std::size_t>(batch), 1234);
  const Tensor t_host = Tensor::from_bytes(DType::I64, {batch}, std::as_bytes(std::span<const std::int64_t>(steps)));
  const auto x = runtime::DeviceTensor::from_host(unet, x_host);
  const auto t = runtime::DeviceTensor::from_host(unet, t_host);
  runtime::Binding call(unet);
  call.input("x", x);
  call.input("t", t);
  call.output_on_device(unet.output_names().front());
  const bool graphs = options.provider == runtime::Provider::Cuda && options.cuda.cuda_graph;
  call.run(graphs ? -1 : 0);
  const runtime::DeviceTensor out = call.outputs().front();
  call.output(unet.output_names().front(), out);
  call.run(graphs ? 1 : 0);  // warm-up (and capture)
  std::vector<double> times;
  for (int i = 0; i < calls; ++i) {
    const auto start = Clock::now();
    call.run(graphs ? 1 : 0);
    times.push_back(ms_since(start));  // Run returns after the device has finished
  }
  std::sort(times.begin(), times.end());
  const double unet_ms = times[times.size() / 2];

  double max_rel = -1;
  if (parity && options.provider == runtime::Provider::Cuda) {
    runtime::SessionOptions cpu;
    const runtime::Session reference(argv[1], cpu);
    const auto want = reference.run({{"x", x_host}, {"t", t_host}}).front().tensor.to_f32();
    const auto got = out.download().to_f32();
    double scale = 0, worst = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
      scale = std::max(scale, std::abs(static_cast<double>(want[i])));
      worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    }
    max_rel = worst / std::max(scale, 1e-30);
  }

  double repaint_s = 0;
  std::size_t repaint_calls = 0;
  if (t_T > 0) {
    const auto process = d::make_diffusion_process(d::NoiseSchedule::Linear, 4000, std::to_string(std::max(t_T, 250)));
    d::JumpSchedule schedule;
    schedule.t_T = t_T;
    repaint_calls = d::count_repaint_steps(d::repaint_times(schedule)).model_calls;
    std::vector<float> keep(static_cast<std::size_t>(size * size));
    for (std::size_t i = 0; i < keep.size(); ++i) keep[i] = (i % static_cast<std::size_t>(size)) < static_cast<std::size_t>(size / 2) ? 1.0f : 0.0f;
    d::PrefetchingTorchNoise repaint_noise(1);
    d::DeviceLoopOptions loop;
    loop.cuda_graphs = graphs;
    const auto start = Clock::now();
    d::sample_repaint_on_device(process, unet, x_host, Tensor::from_f32({1, 1, size, size}, keep), repaint_noise,
                                schedule, {}, loop);
    repaint_s = ms_since(start) / 1000.0;
  }
  std::printf(
      "{\"provider\": \"%s\", \"cuda_graph\": %s, \"batch\": %lld, \"size\": %lld, \"unet_ms\": %.3f, "
      "\"unet_ms_min\": %.3f, \"max_rel_vs_cpu\": %.3g, \"repaint_calls\": %zu, \"repaint_s\": %.3f, "
      "\"repaint_s_per_image\": %.3f}\n",
      runtime::provider_name(options.provider).c_str(), graphs ? "true" : "false", static_cast<long long>(batch),
      static_cast<long long>(size), unet_ms, times.front(), max_rel, repaint_calls, repaint_s,
      repaint_s / static_cast<double>(batch));
  return 0;
}
