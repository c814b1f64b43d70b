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

double mean_region_certainty(std::span<const float> probabilities) {
  if (probabilities.empty()) return 0.0;
  double total = 0.0;
  for (float p : probabilities) total += std::max(static_cast<double>(p), 1.0 - static_cast<double>(p));
  return total / static_cast<double>(probabilities.size());
}

namespace {

double unit_size(std::span<const double> spacing) {
  if (spacing.empty()) return -1.0;
  double unit = 1.0;
  for (double s : spacing) unit *= s;
  if (spacing.size() == 3) unit /= 1000.0;  // mm^3 -> mL
  return unit;
}

}  // namespace

std::vector<int> label_values(const ModelInfo& info) {
  std::vector<int> values;
  if (info.has_regions) {
    values.push_back(0);
    values.insert(values.end(), info.regions_class_order.begin(), info.regions_class_order.end());
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
  } else {
    for (std::int64_t k = 0; k < info.output_channels && k < 256; ++k) values.push_back(static_cast<int>(k));
  }
  return values;
}

std::vector<std::string> label_names(const ModelInfo& info) {
  const auto values = label_values(info);
  std::vector<std::string> names(static_cast<std::size_t>(values.back()) + 1);
  for (int v : values) names[static_cast<std::size_t>(v)] = "label_" + std::to_string(v);
  for (std::size_t r = 0; r < info.regions.size() && r < info.regions_class_order.size(); ++r)
    names[static_cast<std::size_t>(info.regions_class_order[r])] = info.regions[r].name;
  for (const auto& l : info.labels)
    if (l.value >= 0 && static_cast<std::size_t>(l.value) < names.size() && !names[static_cast<std::size_t>(l.value)].empty())
      names[static_cast<std::size_t>(l.value)] = l.name;
  return names;
}

std::vector<LabelCount> count_labels(std::span<const std::uint8_t> labels, const ModelInfo& info,
                                     std::span<const double> spacing) {
  std::vector<std::int64_t> histogram(256, 0);
  for (auto v : labels) ++histogram[v];
  const double unit = unit_size(spacing);
  const auto names = label_names(info);
  std::vector<LabelCount> counts;
  for (int v : label_values(info)) {
    LabelCount c;
    c.value = v;
    c.name = names[static_cast<std::size_t>(v)];
    c.voxels = histogram[static_cast<std::size_t>(v)];
    c.physical = unit < 0 ? -1.0 : static_cast<double>(c.voxels) * unit;
    counts.push_back(c);
  }
  return counts;
}

std::vector<RegionCount> count_regions(std::span<const std::uint8_t> labels, const ModelInfo& info,
                                       std::span<const double> spacing) {
  std::vector<std::int64_t> histogram(256, 0);
  for (auto v : labels) ++histogram[v];
  const double unit = unit_size(spacing);
  std::vector<RegionCount> counts;
  for (const auto& region : info.regions) {
    RegionCount c{region.name, region.members, 0, -1.0};
    std::vector<int> members = region.members;
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    for (int m : members)
      if (m >= 0 && m < 256) c.voxels += histogram[static_cast<std::size_t>(m)];
    c.physical = unit < 0 ? -1.0 : static_cast<double>(c.voxels) * unit;
    counts.push_back(c);
  }
  return counts;
}

}  // namespace medport::segment
