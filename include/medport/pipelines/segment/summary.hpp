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

// Region-based models: mean over voxels and regions of max(p, 1 - p): how sure each binary region decision is, in [0.5, 1].
double mean_region_certainty(std::span<const float> probabilities);

struct LabelCount {
  std::string name;
  int value = 0;
  std::int64_t voxels = 0;
  double physical = -1.0;  // mm^2 (2D) or mL (3D); negative when no spacing is known
};

// The label values a model's label map can hold: 0..K-1 (softmax) or 0 and regions_class_order
// (regions), sorted.
std::vector<int> label_values(const ModelInfo& info);
// Display names indexed by label value: the dataset.json name of a plain label, else the region
// that paints the value, else "label_<v>".
std::vector<std::string> label_names(const ModelInfo& info);

// Voxel counts of every label value the model can produce, plus physical size from `spacing`
// (one mm value per spatial axis; empty: unknown).
std::vector<LabelCount> count_labels(std::span<const std::uint8_t> labels, const ModelInfo& info,
                                     std::span<const double> spacing);

// Region-based models: voxels of each region in the painted label map (those whose label is one
// of the region's members), e.g. BraTS whole tumour / tumour core / enhancing tumour.
struct RegionCount {
  std::string name;
  std::vector<int> members;
  std::int64_t voxels = 0;
  double physical = -1.0;
};
std::vector<RegionCount> count_regions(std::span<const std::uint8_t> labels, const ModelInfo& info,
                                       std::span<const double> spacing);

}  // namespace medport::segment
