// In-process timing of the nnU-Net sliding-window predictor against the raw ONNX Runtime time
// of the same network inputs (what the pipeline adds: tiling, flips, Gaussian accumulation).
//
//   MEDPORT_BENCH_MODEL=model.onnx MEDPORT_BENCH_THREADS=2 MEDPORT_BENCH_SIZE=256 ./bench_segment
//
// The model needs its sidecar (medport convert). bench/bench_segment.sh builds the full-size
// CAMUS model and runs this together with the CLI and PyTorch comparisons.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>

#include "bench_provider.hpp"
#include "medport/pipelines/segment/predictor.hpp"

namespace {

using namespace medport;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

const segment::LoadedModel& model() {
  static const segment::LoadedModel m = [] {
    const char* path = std::getenv("MEDPORT_BENCH_MODEL");
    if (!path) throw std::runtime_error("set MEDPORT_BENCH_MODEL to a converted .onnx");
    const runtime::SessionOptions o = bench::bench_session_options(env_int("MEDPORT_BENCH_THREADS", 0));
    return segment::load_model(path, o);
  }();
  return m;
}

std::vector<float> random_values(std::size_t n) {
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

void BM_Predict(benchmark::State& state) {
  const auto& m = model();
  const std::int64_t size = env_int("MEDPORT_BENCH_SIZE", 256);
  Shape shape{m.info.input_channels};
  for (int d = 0; d < m.info.spatial_dims; ++d) shape.push_back(size);
  const auto image = random_values(static_cast<std::size_t>(shape_numel(shape)));
  segment::PredictorOptions options;
  options.mirror = state.range(0) != 0;
  options.tile_batch = static_cast<int>(state.range(1));
  const std::vector<segment::LoadedModel> models{m};
  segment::Timings t;
  for (auto _ : state) benchmark::DoNotOptimize(segment::predict_logits(models, image, shape, options, &t));
  const auto n = static_cast<double>(state.iterations());
  state.counters["network_ms"] = t.network_ms / n;
  state.counters["overhead_ms"] = (t.total_ms - t.network_ms) / n;
  state.counters["network_inputs"] = static_cast<double>(t.network_inputs) / n;
}

// The same inputs straight through Session::run: one patch-sized tensor per call.
void BM_RawOrt(benchmark::State& state) {
  const auto& m = model();
  Shape shape{state.range(1), m.info.input_channels};
  shape.insert(shape.end(), m.info.patch_size.begin(), m.info.patch_size.end());
  const auto values = random_values(static_cast<std::size_t>(shape_numel(shape)));
  const runtime::NamedTensor feed{m.info.input_name, Tensor::from_f32(shape, values)};
  const int calls = static_cast<int>(state.range(0) / state.range(1));
  for (auto _ : state)
    for (int i = 0; i < calls; ++i) benchmark::DoNotOptimize(m.session->run({feed}));
}

}  // namespace

// Args: mirroring (0/1), tile batch. A 256x256 image with a 256x256 patch is one tile: 4
// network inputs with mirroring, 1 without.
BENCHMARK(BM_Predict)->Args({0, 1})->Args({1, 1})->Args({1, 4})->Unit(benchmark::kMillisecond)->MinTime(3.0);
// Args: network inputs, batch per call.
BENCHMARK(BM_RawOrt)->Args({1, 1})->Args({4, 1})->Args({4, 4})->Unit(benchmark::kMillisecond)->MinTime(3.0);
BENCHMARK_MAIN();
