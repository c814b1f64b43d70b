// IRIS few-shot timings in medport (ONNX Runtime CPU): support encoding, one-shot (encode +
// forward), 3-support context ensemble (3 encodes + forward) and in-context tuning.
//
//   bench_iris MODEL.pt CONFIG.json REFERENCE.npz OUTDIR THREADS REPEATS STEPS
//
// MODEL.pt, CONFIG.json, REFERENCE.npz: from tools/iris_reference.py make (the npz gives
// support_image, support_masks, query_image). The model is converted into OUTDIR first, as
// `medport convert MODEL.pt --config CONFIG.json -o OUTDIR` does. The tuning target is the support
// masks. Prints one line of JSON: convert_s, load_s (the three sessions), encode_ms / one_shot_ms /
// ensemble3_ms (median of REPEATS after one warm-up), tune_ms (STEPS Adam steps + the final
// evaluation, one run after a warm-up tune step), tune_step_ms (tune_ms / (STEPS + 1)).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "medport/checkpoint/npy.hpp"
#include "medport/pipelines/convert.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/pipelines/fewshot/tuning.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median_ms(int repeats, const std::function<void()>& work) {
  work();  // warm-up
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    work();
    times.push_back(since_ms(start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// N copies of a (1, ...) tensor stacked on axis 0.
medport::Tensor repeat0(const medport::Tensor& t, std::int64_t n) {
  const auto one = t.to_f32();
  std::vector<float> all;
  for (std::int64_t i = 0; i < n; ++i) all.insert(all.end(), one.begin(), one.end());
  medport::Shape shape = t.shape();
  shape[0] = n;
  return medport::Tensor::from_f32(shape, all);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace medport;
  namespace fewshot = medport::pipelines::fewshot;
  if (argc < 8) {
    std::fprintf(stderr, "usage: %s MODEL.pt CONFIG.json REFERENCE.npz OUTDIR THREADS REPEATS STEPS\n", argv[0]);
    return 2;
  }
  runtime::SessionOptions options;
  options.intra_op_threads = std::atoi(argv[5]);
  const int repeats = std::max(1, std::atoi(argv[6]));
  const int steps = std::max(0, std::atoi(argv[7]));
  const auto ref = ckpt::NpzFile::open(argv[3]);
  const Tensor support = ref.read("support_image"), masks = ref.read("support_masks"), query = ref.read("query_image");

  auto start = Clock::now();
  pipelines::ConvertRequest request;
  request.source = argv[1];
  request.options.config = argv[2];
  request.output = argv[4];
  pipelines::convert(request);
  const double convert_s = since_ms(start) / 1e3;

  start = Clock::now();
  const fewshot::IrisModel model(argv[4], options);
  const Tensor embeddings = model.encode_support(support, masks);
  model.loss_and_gradient(query, embeddings, masks);  // loads tune_step.onnx (+ first-run work)
  const double load_s = since_ms(start) / 1e3;

  const double encode_ms = median_ms(repeats, [&] { model.encode_support(support, masks); });
  const double one_shot_ms = median_ms(repeats, [&] { fewshot::one_shot(model, support, masks, query); });
  const Tensor supports3 = repeat0(support, 3), masks3 = repeat0(masks, 3);
  const double ensemble_ms = median_ms(repeats, [&] { fewshot::context_ensemble(model, supports3, masks3, query); });

  fewshot::TuningOptions tuning;
  tuning.steps = steps;
  start = Clock::now();
  const auto tuned = fewshot::tune_embeddings(model, query, embeddings, masks, tuning);
  const double tune_ms = since_ms(start);

  std::printf(
      "{\"threads\": %d, \"convert_s\": %.2f, \"load_s\": %.2f, \"encode_ms\": %.1f, \"one_shot_ms\": %.1f, "
      "\"ensemble3_ms\": %.1f, \"tune_steps\": %d, \"tune_ms\": %.1f, \"tune_step_ms\": %.1f, "
      "\"loss_first\": %.7f, \"loss_last\": %.7f}\n",
      options.intra_op_threads, convert_s, load_s, encode_ms, one_shot_ms, ensemble_ms, steps, tune_ms,
      tune_ms / (steps + 1), tuned.losses.front(), tuned.losses.back());
  return 0;
}
