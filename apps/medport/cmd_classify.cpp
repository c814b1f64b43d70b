// `medport classify MODEL INPUT... | --video PATH`: a converted timm classifier on images (timm's
// evaluation transform, top-k, JSON/CSV, resumable folders) or frame by frame on a video (per-frame
// CSV/JSON, probability plot, --compare against a second model on the same frames).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>

#include <fmt/format.h>

#include "command.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/classify/batch.hpp"
#include "medport/pipelines/classify/classifier.hpp"
#include "medport/pipelines/classify/image_batch.hpp"
#include "medport/pipelines/classify/results.hpp"
#include "medport/pipelines/classify/video.hpp"
#include "medport/pipelines/batch/progress.hpp"
#include "medport/util/file_io.hpp"

namespace {

namespace fs = std::filesystem;
using namespace medport;
using namespace medport::classify;

struct ClassifyArgs {
  std::string model;
  std::vector<std::string> inputs;
  std::string output;
  std::size_t top_k = 3;
  std::string resize = "crop";
  bool overwrite = false;
  int batch = 8;
  int threads = 0;
  std::string provider = "cpu";
  // video
  std::string video;
  std::int64_t max_frames = 0;
  std::int64_t stride = 1;
  std::optional<int> rotate;
  std::string crop_from = "center";
  std::string debug_frames;
  std::string compare;
};

void write_bytes(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  write_file_atomic(path, std::as_bytes(std::span(bytes)));
}

std::string ranked_text(const Classifier& model, const Prediction& p, std::size_t k) {
  std::string out;
  for (const auto& c : model.top_k(p, k)) out += fmt::format("{}{} {:.4f}", out.empty() ? "" : ", ", c.label, c.probability);
  return out;
}

int run_images(const ClassifyArgs& args, const Classifier& model, ResizeMode resize) {
  std::vector<fs::path> paths(args.inputs.begin(), args.inputs.end());
  const auto inputs = collect_images(paths);
  ImageBatchOptions options;
  options.output_dir = args.output;
  options.overwrite = args.overwrite;
  options.top_k = args.top_k;
  options.transform = model.transform(resize, CropAnchor::Center);
  pipelines::batch::BatchProgress progress(inputs.size(), !args.output.empty() && isatty(STDERR_FILENO));
  using Status = pipelines::batch::CaseReport::Status;
  const auto result = classify_images(model, inputs, options, [&](const auto& report, const ImageResult* r) {
    if (report.status == Status::Failed) std::fprintf(stderr, "error: %s\n", report.message.c_str());
    if (report.status == Status::Done && r)
      std::printf("%s: %s\n", r->name.c_str(), ranked_text(model, r->prediction, args.top_k).c_str());
    progress.case_done(report.case_name, report.status == Status::Done      ? "done"
                                         : report.status == Status::Skipped ? "skipped (done)"
                                                                            : "failed");
  });
  progress.finish();
  if (result.totals.failed) {
    std::fprintf(stderr, "%zu of %zu images failed\n", result.totals.failed, inputs.size());
    return 3;
  }
  return 0;
}

int run_video(const ClassifyArgs& args, const Classifier& model, ResizeMode resize,
              const runtime::SessionOptions& session_options) {
  std::unique_ptr<Classifier> second;
  if (!args.compare.empty()) second = std::make_unique<Classifier>(args.compare, session_options);
  std::vector<const Classifier*> models{&model};
  if (second) models.push_back(second.get());
  VideoOptions options;
  options.max_frames = args.max_frames;
  options.stride = args.stride;
  options.rotate = args.rotate;
  options.resize = resize;
  options.anchor = args.crop_from == "top" ? CropAnchor::Top : args.crop_from == "bottom" ? CropAnchor::Bottom : CropAnchor::Center;
  options.batch = args.batch;
  FrameHook hook;
  if (!args.debug_frames.empty()) {
    fs::create_directories(args.debug_frames);
    hook = [dir = fs::path(args.debug_frames)](std::int64_t frame, const RgbImage& image) {
      write_bytes(dir / fmt::format("frame_{:06d}.png", frame), rgb_png(image));
    };
  }
  const VideoRun run = classify_video(args.video, models, options, hook);
  const auto& frames = run.per_model[0];
  std::printf("video:     %s (%.3g fps, %lld frames decoded, rotation %d from %s)\n", args.video.c_str(), run.info.fps,
              static_cast<long long>(run.info.decoded), run.info.rotation, run.info.rotation_from.c_str());
  std::printf("classified %zu frames with %s\n", frames.size(), args.model.c_str());
  std::vector<std::size_t> counts(static_cast<std::size_t>(model.config().num_classes), 0);
  for (const auto& f : frames) ++counts[static_cast<std::size_t>(f.prediction.top1)];
  for (std::size_t k = 0; k < counts.size(); ++k)
    if (counts[k])
      std::printf("  top-1 %-12s %zu frames\n", model.config().class_label(static_cast<std::int64_t>(k)).c_str(), counts[k]);

  std::optional<Comparison> comparison;
  if (second) {
    comparison = compare(frames, run.per_model[1]);
    std::printf("compare:   %s\n", args.compare.c_str());
    std::printf("  max |probability difference|  %.3g\n", comparison->max_abs);
    std::printf("  mean |probability difference| %.3g\n", comparison->mean_abs);
    std::printf("  top-1 agreement               %.2f %%\n", 100.0 * comparison->agreement);
    if (comparison->first_disagreement)
      std::printf("  first disagreeing frame       %lld\n", static_cast<long long>(*comparison->first_disagreement));
    else
      std::printf("  first disagreeing frame       none\n");
  }
  if (!args.output.empty()) {
    VideoOutputs outputs{&run, models, {args.model}, fs::path(args.video).filename().string(),
                         comparison ? &*comparison : nullptr};
    if (second) outputs.model_names.push_back(args.compare);
    write_video_outputs(args.output, outputs);
    std::printf("wrote:     %s\n", args.output.c_str());
  }
  return 0;
}

int run(const ClassifyArgs& args) {
  if (args.video.empty() == args.inputs.empty())
    throw UsageError("give images/folders to classify or --video PATH (not both)");
  if (!args.compare.empty() && args.video.empty()) throw UsageError("--compare needs --video");
  if (args.top_k < 1) throw UsageError("--top-k must be at least 1");
  const auto session_options = runtime::session_options_from_flags(args.threads, args.provider);
  const Classifier model(args.model, session_options);
  const ResizeMode resize = args.resize == "squash" ? ResizeMode::Squash : ResizeMode::Crop;
  return args.video.empty() ? run_images(args, model, resize) : run_video(args, model, resize, session_options);
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<ClassifyArgs>();
  auto* cmd = root.add_subcommand("classify", "Classify images or a video with a converted timm classifier");
  cmd->add_option("model", args->model, "Converted classifier (MODEL.onnx with MODEL.medport.json)")->required();
  cmd->add_option("inputs", args->inputs, "Images (.png .jpg .tif .bmp .npy) or folders of them");
  cmd->add_option("-o,--output", args->output, "Folder for the results (JSON/CSV per image or per frame, plots)");
  cmd->add_option("--top-k", args->top_k, "Classes printed and written per image (3)")->check(CLI::Range(1, 1000));
  cmd->add_option("--resize", args->resize, "crop: timm's shorter-side resize + centre crop; squash: stretch")
      ->check(CLI::IsMember({"crop", "squash"}));
  cmd->add_flag("--overwrite", args->overwrite, "Redo images whose result exists in OUT (else they are kept)");
  cmd->add_option("--batch", args->batch, "Video frames per network call (8)")->check(CLI::Range(1, 1024));
  cmd->add_option("--threads", args->threads, "ONNX Runtime intra-op threads (0: one per core)");
  cmd->add_option("--provider", args->provider, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--video", args->video, "Classify every frame of a video (MOV/MP4/AVI)");
  cmd->add_option("--max-frames", args->max_frames, "Video: classify at most N frames (0: all)")->check(CLI::Range(0, 100000000));
  cmd->add_option("--stride", args->stride, "Video: every N-th frame (1)")->check(CLI::Range(1, 100000));
  cmd->add_option_function<int>(
         "--rotate", [args](const int& v) { args->rotate = v; },
         "Video: rotate frames clockwise by -90|0|90|180|270 degrees instead of the file's rotation metadata")
      ->check(CLI::IsMember({-90, 0, 90, 180, 270}));
  cmd->add_option("--crop-from", args->crop_from, "Video: crop position, top|center|bottom (screen recordings)")
      ->check(CLI::IsMember({"top", "center", "bottom"}));
  cmd->add_option("--save-debug-frames", args->debug_frames, "Video: write each classified frame as PNG here");
  cmd->add_option("--compare", args->compare, "Video: run this second model on the same frames and compare");
  return [args] { return run(*args); };
}

}  // namespace

MEDPORT_COMMAND(setup);
