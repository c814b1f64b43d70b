#pragma once
// Frame-by-frame classification of a recorded video (MOV/MP4/AVI through OpenCV's FFmpeg
// backend), honouring the container's rotation metadata, with one or two models on the same
// decoded frames (validation of an export against another: fp32 vs fp16, ONNX vs Core ML).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "medport/pipelines/classify/classifier.hpp"
#include "medport/pipelines/classify/results.hpp"

namespace medport::classify {

struct VideoOptions {
  std::int64_t max_frames = 0;  // classified frames at most; 0: all
  std::int64_t stride = 1;      // classify every stride-th decoded frame
  std::optional<int> rotate;    // degrees clockwise (-90, 0, 90, 180, 270) instead of the metadata's
  ResizeMode resize = ResizeMode::Crop;
  CropAnchor anchor = CropAnchor::Center;
  std::int64_t batch = 8;       // frames per network call
};

struct VideoInfo {
  std::string path;
  double fps = 0;
  std::int64_t frames_in_file = 0;  // as the container reports it (may be 0 or approximate)
  std::int64_t decoded = 0;         // frames actually decoded
  std::int64_t width = 0, height = 0;  // after rotation
  int rotation = 0;                 // degrees clockwise applied
  std::string rotation_from;        // "metadata" | "--rotate"
};

struct VideoRun {
  VideoInfo info;
  std::vector<std::vector<FrameResult>> per_model;  // one list per model, same frames
};

// Called for every classified frame (after rotation, before the model's transform): debug frames.
using FrameHook = std::function<void(std::int64_t frame, const RgbImage& image)>;

// InputError naming the video when it cannot be opened, or holds no decodable frame.
VideoRun classify_video(const std::filesystem::path& video, std::span<const Classifier* const> models,
                        const VideoOptions& options, const FrameHook& on_frame = {});

// PNG bytes of an 8-bit RGB image (debug frames).
std::vector<std::uint8_t> rgb_png(const RgbImage& image);

// PNG bytes: each class's probability over time (one colour per class); with two runs the second
// is drawn dashed on the same axes ("model A solid, model B dashed").
std::vector<std::uint8_t> probability_plot_png(const std::vector<const std::vector<FrameResult>*>& runs,
                                               const std::vector<std::string>& run_labels,
                                               const models::timm::ClassifierConfig& config, const std::string& title);

}  // namespace medport::classify
