#include "medport/pipelines/segment/summary.hpp"

#include <algorithm>
#include <cmath>

#include "medport/error.hpp"

namespace medport::segment {

std::vector<std::uint8_t> argmax_labels(std::span<const float> logits, std::int64_t classes) {
  if (classes <= 0 || classes > 256) throw InputError("logits", "argmax needs 1..256 channels");
  const auto voxels = logits.size() / static_cast<std::size_t>(classes);
  std::vector<std::uint8_t> labels(voxels, 0);
  std::vector<float> best(logits.begin(), logits.begin() + static_cast<std::ptrdiff_t>(voxels));
  for (std::int64_t k = 1; k < classes; ++k) {
    const float* row = logits.data() + static_cast<std::size_t>(k) * voxels;
    for (std::size_t i = 0; i < voxels; ++i)
      if (row[i] > best[i]) {
        best[i] = row[i];
        labels[i] = static_cast<std::uint8_t>(k);
      }
  }
  return labels;
}

std::vector<float> softmax_probabilities(std::span<const float> logits, std::int64_t classes) {
  const auto voxels = logits.size() / static_cast<std::size_t>(classes);
  std::vector<float> probs(logits.size());
  const auto k_count = static_cast<std::size_t>(classes);
  for (std::size_t i = 0; i < voxels; ++i) {
    double top = logits[i];
    for (std::size_t k = 1; k < k_count; ++k) top = std::max(top, static_cast<double>(logits[k * voxels + i]));
    double sum = 0.0;
    for (std::size_t k = 0; k < k_count; ++k) sum += std::exp(static_cast<double>(logits[k * voxels + i]) - top);
    for (std::size_t k = 0; k < k_count; ++k)
      probs[k * voxels + i] = static_cast<float>(std::exp(static_cast<double>(logits[k * voxels + i]) - top) / sum);
  }
  return probs;
}

double mean_max_probability(std::span<const float> logits, std::int64_t classes) {
  const auto voxels = logits.size() / static_cast<std::size_t>(classes);
  if (voxels == 0) return 0.0;
  const auto k_count = static_cast<std::size_t>(classes);
  double total = 0.0;
  for (std::size_t i = 0; i < voxels; ++i) {
    double top = logits[i];
    for (std::size_t k = 1; k < k_count; ++k) top = std::max(top, static_cast<double>(logits[k * voxels + i]));
    double sum = 0.0;
    for (std::size_t k = 0; k < k_count; ++k) sum += std::exp(static_cast<double>(logits[k * voxels + i]) - top);
    total += 1.0 / sum;  // the top class has exp(0) = 1 in the numerator
  }
  return total / static_cast<double>(voxels);
}

std::vector<LabelCount> count_labels(std::span<const std::uint8_t> labels, const ModelInfo& info,
                                     std::span<const double> spacing) {
  std::vector<std::int64_t> histogram(256, 0);
  for (auto v : labels) ++histogram[v];
  double unit = -1.0;
  if (!spacing.empty()) {
    unit = 1.0;
    for (double s : spacing) unit *= s;
    if (spacing.size() == 3) unit /= 1000.0;  // mm^3 -> mL
  }
  std::vector<LabelCount> counts;
  for (std::int64_t k = 0; k < info.output_channels && k < 256; ++k) {
    LabelCount c;
    c.value = static_cast<int>(k);
    c.name = "label_" + std::to_string(k);
    for (const auto& l : info.labels)
      if (l.value == k) c.name = l.name;
    c.voxels = histogram[static_cast<std::size_t>(k)];
    c.physical = unit < 0 ? -1.0 : static_cast<double>(c.voxels) * unit;
    counts.push_back(c);
  }
  return counts;
}

}  // namespace medport::segment
