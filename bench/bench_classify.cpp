// Classification timings in medport (ONNX Runtime CPU) for bench/bench_classify.sh.
//
//   bench_classify MODEL.onnx THREADS REPEATS BATCH
//       latency_ms (batch 1) and batch_ms (BATCH images): medians of REPEATS after a warm-up of
//       Classifier::predict on 224x224 inputs (normalization and softmax are inside the graph)
//   bench_classify --video MODEL.onnx THREADS FRAMES OUT.avi
//       writes a FRAMES-frame 640x480 synthetic cine (MJPG) and times `classify --video` end to
//       end on it: decoding, timm's transform per frame, batched inference; prints frames_per_s
// One line of JSON each.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "medport/pipelines/classify/classifier.hpp"
#include "medport/pipelines/classify/video.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace medport;

double median_ms(int repeats, const std::function<void()>& work) {
  work();
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = Clock::now();
    work();
    times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

int images(const char* model_path, int threads, int repeats, int batch) {
  runtime::SessionOptions options;
  options.intra_op_threads = threads;
  const classify::Classifier model(model_path, options);
  const auto& c = model.config();
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> u(0.0f, 255.0f);
  std::vector<float> one(static_cast<std::size_t>(3 * c.height * c.width));
  for (float& v : one) v = u(rng);
  const std::vector<std::vector<float>> single{one};
  const std::vector<std::vector<float>> many(static_cast<std::size_t>(batch), one);
  const double latency = median_ms(repeats, [&] { model.predict(single); });
  const double batch_ms = median_ms(repeats, [&] { model.predict(many); });
  std::printf("{\"latency_ms\": %.3f, \"batch_ms\": %.3f, \"images_per_s\": %.2f, \"batch\": %d, \"threads\": %d}\n",
              latency, batch_ms, batch * 1000.0 / batch_ms, batch, threads);
  return 0;
}

int video(const char* model_path, int threads, int frames, const char* out) {
  cv::VideoWriter writer(out, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 30.0, cv::Size(640, 480));
  if (!writer.isOpened()) {
    std::fprintf(stderr, "cannot write %s\n", out);
    return 1;
  }
  for (int i = 0; i < frames; ++i) {
    cv::Mat f(480, 640, CV_8UC3, cv::Scalar(20, 20, 20));
    cv::ellipse(f, {320, 240}, {120 + i % 40, 180}, 0, 0, 360, cv::Scalar(200, 200, 200), 12);
    writer.write(f);
  }
  writer.release();
  runtime::SessionOptions options;
  options.intra_op_threads = threads;
  const classify::Classifier model(model_path, options);
  const classify::Classifier* models[] = {&model};
  classify::VideoOptions v;
  const auto start = Clock::now();
  const auto run = classify::classify_video(out, models, v);
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("{\"frames\": %zu, \"seconds\": %.3f, \"frames_per_s\": %.2f, \"threads\": %d}\n", run.per_model[0].size(), s,
              static_cast<double>(run.per_model[0].size()) / s, threads);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "--video") return video(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argv[5]);
  if (argc != 5) {
    std::fprintf(stderr, "usage: bench_classify MODEL.onnx THREADS REPEATS BATCH | --video MODEL.onnx THREADS FRAMES OUT.avi\n");
    return 2;
  }
  return images(argv[1], std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
}
