// Label merging, confidence, per-class volumes and the guide's quality checks.
#include <algorithm>
#include <cstdio>

#include "medport/error.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"

namespace medport::pipelines::fewshot {
namespace {

std::size_t voxels_per_class(std::size_t total, std::int64_t classes) {
  if (classes < 1 || total % static_cast<std::size_t>(classes) != 0)
    throw UsageError("per-class arrays must hold K equal blocks of voxels");
  return total / static_cast<std::size_t>(classes);
}

std::vector<std::int64_t> label_values_or_default(std::span<const std::int64_t> values, std::int64_t classes) {
  std::vector<std::int64_t> out(values.begin(), values.end());
  if (out.empty())
    for (std::int64_t k = 0; k < classes; ++k) out.push_back(k + 1);
  if (static_cast<std::int64_t>(out.size()) != classes) throw UsageError("one label value per class is needed");
  for (auto v : out)
    if (v < 1 || v > 255) throw UsageError("label values must lie in 1..255, got " + std::to_string(v));
  return out;
}

std::string format_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

std::vector<std::uint8_t> merge_labels(std::span<const std::uint8_t> masks, std::span<const float> probabilities,
                                       std::int64_t classes, std::span<const std::int64_t> label_values) {
  const std::size_t per = voxels_per_class(masks.size(), classes);
  if (probabilities.size() != masks.size()) throw UsageError("masks and probabilities differ in size");
  const auto values = label_values_or_default(label_values, classes);
  std::vector<std::uint8_t> labels(per, 0);
  for (std::size_t i = 0; i < per; ++i) {
    float best = 0.0F;
    bool found = false;
    for (std::size_t k = 0; k < static_cast<std::size_t>(classes); ++k) {
      const std::size_t j = k * per + i;
      if (!masks[j]) continue;
      if (!found || probabilities[j] > best) {
        best = probabilities[j];
        labels[i] = static_cast<std::uint8_t>(values[k]);
        found = true;
      }
    }
  }
  return labels;
}

std::vector<float> confidence_map(std::span<const float> probabilities, std::span<const std::uint8_t> merged_labels,
                                  std::int64_t classes, std::span<const std::int64_t> label_values) {
  const std::size_t per = voxels_per_class(probabilities.size(), classes);
  if (merged_labels.size() != per) throw UsageError("the label map does not match the probabilities");
  const auto values = label_values_or_default(label_values, classes);
  std::vector<float> out(per);
  for (std::size_t i = 0; i < per; ++i) {
    float top = 0.0F, chosen = -1.0F;
    for (std::size_t k = 0; k < static_cast<std::size_t>(classes); ++k) {
      const float p = probabilities[k * per + i];
      top = std::max(top, p);
      if (merged_labels[i] != 0 && values[k] == merged_labels[i]) chosen = p;
    }
    out[i] = merged_labels[i] != 0 && chosen >= 0.0F ? chosen : 1.0F - top;
  }
  return out;
}

double mean_binary_confidence(std::span<const float> probabilities) {
  if (probabilities.empty()) return 0.0;
  double total = 0.0;
  for (float p : probabilities) total += std::max(static_cast<double>(p), 1.0 - static_cast<double>(p));
  return total / static_cast<double>(probabilities.size());
}

std::vector<ClassStats> class_statistics(std::span<const std::uint8_t> masks, std::span<const float> probabilities,
                                         std::int64_t classes, const Grid& grid, std::span<const double> spacing) {
  const std::size_t per = voxels_per_class(masks.size(), classes);
  if (per != grid.voxels() || probabilities.size() != masks.size())
    throw UsageError("masks, probabilities and grid do not agree");
  double voxel_mm3 = 1.0;
  for (double s : spacing) {
    if (!(s > 0.0)) throw UsageError("spacing values must be positive");
    voxel_mm3 *= s;
  }
  std::vector<ClassStats> out;
  for (std::size_t k = 0; k < static_cast<std::size_t>(classes); ++k) {
    ClassStats s;
    for (std::size_t i = 0; i < per; ++i) s.voxels += masks[k * per + i] ? 1 : 0;
    s.volume_ml = static_cast<double>(s.voxels) * voxel_mm3 / 1000.0;
    s.fraction = static_cast<double>(s.voxels) / static_cast<double>(per);
    s.mean_confidence = mean_binary_confidence(probabilities.subspan(k * per, per));
    out.push_back(s);
  }
  return out;
}

QualityReport check_quality(double mean_confidence, double foreground_fraction, const QualityOptions& options) {
  QualityReport report;
  if (options.min_confidence) {
    QualityCheck c{"min_confidence", mean_confidence, *options.min_confidence, mean_confidence >= *options.min_confidence, {}};
    c.reason = c.passed ? "mean confidence " + format_number(mean_confidence) + " >= " + format_number(c.threshold)
                        : "low confidence: mean " + format_number(mean_confidence) + " < " + format_number(c.threshold);
    report.checks.push_back(c);
  }
  if (options.max_volume_ratio) {
    QualityCheck c{"max_volume_ratio", foreground_fraction, *options.max_volume_ratio,
                   foreground_fraction <= *options.max_volume_ratio, {}};
    c.reason = c.passed ? "foreground is " + format_number(100.0 * foreground_fraction) + "% of the image (<= " +
                              format_number(100.0 * c.threshold) + "%)"
                        : "excessive segmentation: " + format_number(100.0 * foreground_fraction) +
                              "% of the image > " + format_number(100.0 * c.threshold) + "%";
    report.checks.push_back(c);
  }
  for (const auto& c : report.checks) report.passed = report.passed && c.passed;
  return report;
}

}  // namespace medport::pipelines::fewshot
