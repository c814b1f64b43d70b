#include "medport/pipelines/classify/video.hpp"

#include <cmath>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "medport/error.hpp"

namespace medport::classify {
namespace {

int normalized_rotation(int degrees, const std::string& source) {
  const int d = ((degrees % 360) + 360) % 360;
  if (d % 90 != 0) throw InputError(source, "rotation " + std::to_string(degrees) + " is not a multiple of 90 degrees");
  return d;
}

// Clockwise degrees that display the frames upright. OpenCV reports FFmpeg's
// av_display_rotation_get() of the stream's display matrix: the angle the matrix turns the
// picture counterclockwise, so a container marked "rotate 90" (matrix 0 1 -1 0, what ffmpeg and
// phones write for a 90-degree clockwise display) reads 270. OpenCV 4.6's own auto-rotation turns
// such frames the wrong way; medport applies the display rotation itself.
int display_rotation(const cv::VideoCapture& cap, const std::string& source) {
  const int ccw = normalized_rotation(static_cast<int>(std::lround(cap.get(cv::CAP_PROP_ORIENTATION_META))), source);
  return (360 - ccw) % 360;
}

void rotate(cv::Mat& frame, int degrees) {
  if (degrees == 90) cv::rotate(frame, frame, cv::ROTATE_90_CLOCKWISE);
  else if (degrees == 180) cv::rotate(frame, frame, cv::ROTATE_180);
  else if (degrees == 270) cv::rotate(frame, frame, cv::ROTATE_90_COUNTERCLOCKWISE);
}

struct Pending {
  std::int64_t frame;
  double time_s;
  RgbImage image;
};

}  // namespace

VideoRun classify_video(const std::filesystem::path& video, std::span<const Classifier* const> models,
                        const VideoOptions& options, const FrameHook& on_frame) {
  const std::string source = video.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(video, ec))
    throw InputError(source, std::filesystem::exists(video, ec) ? "not a regular file (a video file is needed)" : "no such video file");
  if (options.stride < 1) throw UsageError("--stride must be at least 1");
  cv::VideoCapture cap;
  if (!cap.open(source, cv::CAP_FFMPEG) || !cap.isOpened())
    throw InputError(source, "cannot be opened as a video (MOV/MP4/AVI via FFmpeg)");
  cap.set(cv::CAP_PROP_ORIENTATION_AUTO, 0.0);  // rotation is applied here, explicitly

  VideoRun run;
  run.per_model.resize(models.size());
  VideoInfo& info = run.info;
  info.path = source;
  info.fps = cap.get(cv::CAP_PROP_FPS);
  info.frames_in_file = static_cast<std::int64_t>(cap.get(cv::CAP_PROP_FRAME_COUNT));
  if (options.rotate) {
    info.rotation = normalized_rotation(*options.rotate, "--rotate");
    info.rotation_from = "--rotate";
  } else {
    info.rotation = display_rotation(cap, source);
    info.rotation_from = "metadata";
  }

  std::vector<TransformSettings> transforms;
  for (const Classifier* m : models) transforms.push_back(m->transform(options.resize, options.anchor));
  std::vector<Pending> pending;
  auto flush = [&] {
    for (std::size_t m = 0; m < models.size(); ++m) {
      std::vector<std::vector<float>> inputs;
      for (const auto& p : pending) inputs.push_back(eval_transform(p.image, transforms[m]));
      const auto predictions = models[m]->predict(inputs);
      for (std::size_t i = 0; i < pending.size(); ++i)
        run.per_model[m].push_back({pending[i].frame, pending[i].time_s, predictions[i]});
    }
    pending.clear();
  };

  cv::Mat frame, rgb;
  std::int64_t index = -1, classified = 0;
  while (options.max_frames == 0 || classified < options.max_frames) {
    if (!cap.read(frame) || frame.empty()) break;
    ++index;
    if (index % options.stride != 0) continue;
    const double msec = cap.get(cv::CAP_PROP_POS_MSEC);
    const double time_s = msec > 0 || index == 0 ? msec / 1000.0 : (info.fps > 0 ? index / info.fps : 0.0);
    rotate(frame, info.rotation);
    if (frame.channels() == 1) cv::cvtColor(frame, rgb, cv::COLOR_GRAY2RGB);
    else if (frame.channels() == 4) cv::cvtColor(frame, rgb, cv::COLOR_BGRA2RGB);
    else cv::cvtColor(frame, rgb, cv::COLOR_BGR2RGB);
    if (rgb.depth() != CV_8U) throw InputError(source, "frames are not 8-bit");
    info.width = rgb.cols;
    info.height = rgb.rows;
    RgbImage image = rgb_from_interleaved(rgb.ptr<std::uint8_t>(0), rgb.rows, rgb.cols, rgb.step[0],
                                          source + " frame " + std::to_string(index));
    if (on_frame) on_frame(index, image);
    pending.push_back({index, time_s, std::move(image)});
    ++classified;
    if (static_cast<std::int64_t>(pending.size()) >= std::max<std::int64_t>(options.batch, 1)) flush();
  }
  info.decoded = index + 1;
  if (!pending.empty()) flush();
  if (classified == 0) throw InputError(source, "holds no decodable frame (frame count 0)");
  return run;
}

}  // namespace medport::classify
