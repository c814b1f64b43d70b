// The in-process baseline of bench/bench_serve.sh: the same work `medport serve` does per request,
// called directly from THREADS threads for SECONDS seconds (no HTTP, no parsing, no queue).
//
//   bench_serve_inprocess infer MODEL.onnx INPUTS.npz THREADS SECONDS INTRA_OP_THREADS
//       runtime::Session::run on the npz's arrays (what /v2/models/NAME/infer runs)
//   bench_serve_inprocess segment MODEL.onnx IMAGE.png SPACING THREADS SECONDS INTRA_OP_THREADS
//       segment::compute_case with the overlay (what /v1/segment runs)
// One line of JSON: calls, calls_per_s, p50_ms, p99_ms.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "medport/checkpoint/npy.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/run.hpp"
#include "medport/pipelines/segment/case_runner.hpp"

namespace {

using Clock = std::chrono::steady_clock;

int drive(int threads, double seconds, const std::function<void()>& work) {
  work();  // warm-up
  std::vector<double> latencies;
  std::mutex mutex;
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      std::vector<double> mine;
      while (!stop) {
        const auto begin = Clock::now();
        work();
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - begin).count());
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) { return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))]; };
  std::printf("{\"calls\": %zu, \"calls_per_s\": %.2f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"threads\": %d}\n", latencies.size(),
              static_cast<double>(latencies.size()) / wall, pct(0.50), pct(0.99), threads);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace medport;
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "infer" && argc == 7) {
    runtime::SessionOptions options;
    options.intra_op_threads = std::atoi(argv[6]);
    const runtime::Session session(argv[2], options);
    const auto arrays = ckpt::read_npz(argv[3]);
    return drive(std::atoi(argv[4]), std::atof(argv[5]), [&] { pipelines::run_on_arrays(session, arrays, argv[3]); });
  }
  if (mode == "segment" && argc == 8) {
    runtime::SessionOptions options;
    options.intra_op_threads = std::atoi(argv[7]);
    const auto model = segment::load_model(argv[2], options);
    segment::CaseOptions case_options;
    case_options.read.spacing = imaging::parse_spacing(argv[4], 2, 2);
    const segment::CaseInput input{"bench", {argv[3]}};
    return drive(std::atoi(argv[5]), std::atof(argv[6]), [&] { segment::compute_case(std::span(&model, 1), input, case_options); });
  }
  std::fprintf(stderr,
               "usage: bench_serve_inprocess infer MODEL.onnx INPUTS.npz THREADS SECONDS INTRA_OP\n"
               "       bench_serve_inprocess segment MODEL.onnx IMAGE SPACING THREADS SECONDS INTRA_OP\n");
  return 2;
}
