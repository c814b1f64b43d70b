#pragma once
// Turning logits into a label map and the per-case numbers the summary JSON reports.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "medport/pipelines/segment/model_info.hpp"

namespace medport::segment {

// Channel-wise argmax of logits (K, voxels): the first largest channel wins, as torch.argmax.
// K must be at most 256.
std::vector<std::uint8_t> argmax_labels(std::span<const float> logits, std::int64_t classes);

// Softmax over channels of logits (K, voxels), computed stably in double, stored as float.
std::vector<float> softmax_probabilities(std::span<const float> logits, std::int64_t classes);

// Mean over voxels of the largest softmax probability (the model's confidence, in [1/K, 1]).
double mean_max_probability(std::span<const float> logits, std::int64_t classes);

struct LabelCount {
  std::string name;
  int value = 0;
  std::int64_t voxels = 0;
  double physical = -1.0;  // mm^2 (2D) or mL (3D); negative when no spacing is known
};

// Voxel counts of every label the model knows (channel index = label value), plus physical
// size from `spacing` (one mm value per spatial axis; empty: unknown).
std::vector<LabelCount> count_labels(std::span<const std::uint8_t> labels, const ModelInfo& info,
                                     std::span<const double> spacing);

}  // namespace medport::segment
