#pragma once
// `classify` on images as a batch (pipelines/batch: resumable, a bad image fails only its case,
// an engine failure stops the batch) and the files of a video run. Results are computed in memory
// (classifier.hpp, video.hpp) and written here, so the server can return them without files.
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "medport/pipelines/batch/report.hpp"
#include "medport/pipelines/classify/batch.hpp"
#include "medport/pipelines/classify/results.hpp"
#include "medport/pipelines/classify/video.hpp"

namespace medport::classify {

struct ImageBatchOptions {
  std::filesystem::path output_dir;  // empty: nothing written, nothing skipped
  bool overwrite = false;            // redo images whose OUT/<case>.json exists
  std::size_t top_k = 3;
  TransformSettings transform;
};

struct ImageBatchResult {
  std::vector<ImageResult> results;  // finished and resumed images, in input order
  pipelines::batch::BatchTotals totals;
};

// Classifies each image; with an output folder writes OUT/<case>.json per image (all-or-nothing)
// and, at the end, OUT/classification.{csv,json} over every finished image. `on_case` gets each
// case's report and, for a classified or resumed one, its result.
ImageBatchResult classify_images(const Classifier& model, std::span<const ImageInput> inputs,
                                 const ImageBatchOptions& options,
                                 const std::function<void(const pipelines::batch::CaseReport&, const ImageResult*)>& on_case);

// The files of a video run in `output_dir`: frames.{csv,json}, probabilities.png and, with a
// second model, frames_compare.{csv,json}, comparison.{json,csv,png}. Returns the paths written.
struct VideoOutputs {
  const VideoRun* run = nullptr;
  std::vector<const Classifier*> models;   // one or two
  std::vector<std::string> model_names;    // as given on the command line
  std::string video_name;
  const Comparison* comparison = nullptr;  // with two models
};
std::vector<std::filesystem::path> write_video_outputs(const std::filesystem::path& output_dir, const VideoOutputs& v);

nlohmann::ordered_json video_info_json(const VideoInfo& info);

}  // namespace medport::classify
