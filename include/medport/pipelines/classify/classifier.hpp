#pragma once
// A converted timm classifier ready to run: the ONNX graph (`image` 0..255 RGB -> `probs`), its
// sidecar's timm section (classes, input size, interpolation, crop) and an ONNX Runtime session.
// Results are computed in memory; writing them is the caller's business (CLI, HTTP server).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "medport/models/timm/classifier_config.hpp"
#include "medport/pipelines/classify/image_transform.hpp"
#include "medport/runtime/session.hpp"

namespace medport::classify {

struct Prediction {
  std::vector<float> probs;
  std::vector<float> logits;  // empty unless the graph outputs them
  std::int64_t top1 = -1;
};

struct RankedClass {
  std::int64_t index = 0;
  std::string label;  // the class name, or its index when the model has no names
  float probability = 0;
};

class Classifier {
 public:
  // Reads MODEL's sidecar (InputError when it is missing or not a timm classifier's) and opens
  // the session (EngineError when ONNX Runtime fails).
  explicit Classifier(const std::filesystem::path& model, const runtime::SessionOptions& options = {});
  ~Classifier();
  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;

  const std::filesystem::path& model_path() const;
  const models::timm::ClassifierConfig& config() const;
  // The model's evaluation transform with the caller's resize mode and crop anchor.
  TransformSettings transform(ResizeMode mode = ResizeMode::Crop, CropAnchor anchor = CropAnchor::Center) const;

  // Transformed inputs ((3, H, W) each, 0..255) -> one prediction each, run as one batch.
  std::vector<Prediction> predict(const std::vector<std::vector<float>>& inputs) const;
  Prediction classify(const RgbImage& image, const TransformSettings& transform) const;
  // The k most probable classes, most probable first (ties: lower index first).
  std::vector<RankedClass> top_k(const Prediction& prediction, std::size_t k) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace medport::classify
