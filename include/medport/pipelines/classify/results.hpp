#pragma once
// Classification results as JSON and CSV text (computed, not written: callers write them).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/pipelines/classify/classifier.hpp"

namespace medport::classify {

struct ImageResult {
  std::string name;    // case name (file stem)
  std::string source;  // the input file
  Prediction prediction;
};

// {"image", "source", "top1": {index, label, probability}, "top_k": [...], "probabilities": {label: p}}.
nlohmann::ordered_json image_result_json(const ImageResult& result, const Classifier& model, std::size_t top_k);
// Back from image_result_json (a resumed batch reads its finished cases); InputError naming `source`.
ImageResult image_result_from_json(const nlohmann::ordered_json& j, const models::timm::ClassifierConfig& config,
                                   const std::string& source);
// image,source,top1,top1_probability,<one column per class>
std::string images_csv(const std::vector<ImageResult>& results, const models::timm::ClassifierConfig& config);

// One classified video frame.
struct FrameResult {
  std::int64_t frame = 0;  // index in the decoded stream
  double time_s = 0;       // presentation time
  Prediction prediction;
};

// frame,time_s,top1,top1_probability,<one column per class>
std::string frames_csv(const std::vector<FrameResult>& frames, const models::timm::ClassifierConfig& config);
nlohmann::ordered_json frames_json(const std::vector<FrameResult>& frames, const models::timm::ClassifierConfig& config);

// Two models on the same frames.
struct FrameDifference {
  std::int64_t frame = 0;
  double time_s = 0;
  double max_abs = 0;   // max over classes of |p_a - p_b|
  double mean_abs = 0;  // mean over classes
  std::int64_t top1_a = -1, top1_b = -1;
};

struct Comparison {
  std::vector<FrameDifference> frames;
  double max_abs = 0;      // over all frames and classes
  double mean_abs = 0;     // over all frames and classes
  double agreement = 1.0;  // fraction of frames with the same top-1
  std::optional<std::int64_t> first_disagreement;  // frame index
};

// InputError when the two runs have different frames or class counts.
Comparison compare(const std::vector<FrameResult>& a, const std::vector<FrameResult>& b);
nlohmann::ordered_json comparison_json(const Comparison& c, const std::string& model_a, const std::string& model_b);
std::string comparison_csv(const Comparison& c);

}  // namespace medport::classify
