#include "medport/metrics/aggregate.hpp"

#include <cmath>
#include <limits>
#include <fmt/format.h>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/json_text.hpp"

namespace medport::metrics {
namespace {

bool is_distance(const std::string& name) { return name.ends_with("_mm"); }

std::string format_value(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return fmt::format("{:.17g}", value);
}

nlohmann::json json_value(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

// Quotes a CSV field when it holds a separator, quote or line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names{"dice", "iou", "precision", "recall", "hausdorff_mm", "hd95_mm", "assd_mm"};
  return names;
}

double metric_value(const LabelMetrics& m, const std::string& name) {
  if (name == "dice") return m.dice;
  if (name == "iou") return m.iou;
  if (name == "precision") return m.precision;
  if (name == "recall") return m.recall;
  if (name == "hausdorff_mm") return m.hausdorff_mm;
  if (name == "hd95_mm") return m.hd95_mm;
  if (name == "assd_mm") return m.assd_mm;
  throw UsageError("unknown metric '" + name + "'");
}

AggregateTable aggregate_metrics(const std::vector<CaseMetrics>& cases, bool substitute_worst_case) {
  std::map<int, std::map<std::string, std::vector<double>>> values;
  AggregateTable table;
  for (const auto& one_case : cases) {
    for (const auto& m : one_case.labels) {
      for (const auto& name : metric_names()) {
        auto& summary = table[m.label][name];
        double value = metric_value(m, name);
        if (std::isnan(value)) {
          ++summary.nan_count;
          continue;
        }
        if (std::isinf(value) && substitute_worst_case && is_distance(name)) {
          value = m.worst_case_mm;
          ++summary.substituted;
        }
        values[m.label][name].push_back(value);
      }
    }
  }
  for (auto& [label, per_metric] : table) {
    for (auto& [name, summary] : per_metric) {
      const auto& list = values[label][name];
      summary.count = list.size();
      if (list.empty()) {
        summary.mean = summary.std = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      double sum = 0.0;
      for (double v : list) sum += v;
      summary.mean = sum / static_cast<double>(list.size());
      if (std::isinf(summary.mean)) {
        summary.std = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      double squares = 0.0;
      for (double v : list) squares += (v - summary.mean) * (v - summary.mean);
      summary.std = std::sqrt(squares / static_cast<double>(list.size()));
    }
  }
  return table;
}

std::string metrics_csv(const std::vector<CaseMetrics>& cases) {
  std::string out = "case,label,reference_voxels,prediction_voxels";
  for (const auto& name : metric_names()) out += "," + name;
  out += "\n";
  for (const auto& one_case : cases) {
    for (const auto& m : one_case.labels) {
      out += csv_field(one_case.case_id) + "," + std::to_string(m.label) + "," + std::to_string(m.reference_voxels) +
             "," + std::to_string(m.prediction_voxels);
      for (const auto& name : metric_names()) out += "," + format_value(metric_value(m, name));
      out += "\n";
    }
  }
  return out;
}

nlohmann::json metrics_json(const std::vector<CaseMetrics>& cases, bool substitute_worst_case) {
  nlohmann::json doc;
  doc["cases"] = nlohmann::json::array();
  for (const auto& one_case : cases) {
    nlohmann::json entry{{"case", one_case.case_id}, {"labels", nlohmann::json::array()}};
    for (const auto& m : one_case.labels) {
      nlohmann::json label{{"label", m.label},
                           {"reference_voxels", m.reference_voxels},
                           {"prediction_voxels", m.prediction_voxels},
                           {"true_positives", m.true_positives},
                           {"worst_case_mm", m.worst_case_mm}};
      for (const auto& name : metric_names()) {
        const double value = metric_value(m, name);
        label[name] = json_value(value);
        if (std::isinf(value)) label[name + "_is_inf"] = true;
      }
      entry["labels"].push_back(std::move(label));
    }
    doc["cases"].push_back(std::move(entry));
  }
  nlohmann::json summary = nlohmann::json::object();
  for (const auto& [label, per_metric] : aggregate_metrics(cases, substitute_worst_case)) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, s] : per_metric) {
      metrics[name] = {{"mean", json_value(s.mean)},
                       {"std", json_value(s.std)},
                       {"count", s.count},
                       {"nan_count", s.nan_count},
                       {"substituted", s.substituted}};
    }
    summary[std::to_string(label)] = std::move(metrics);
  }
  doc["summary"] = std::move(summary);
  doc["conventions"] = {{"std", "population (ddof=0)"},
                        {"nan", "left out of mean/std and counted in nan_count; null in JSON"},
                        {"inf", substitute_worst_case ? "replaced by the case's image diagonal (worst_case_mm), counted"
                                                      : "kept: the mean becomes infinite (null in JSON)"}};
  return doc;
}

void write_metrics_csv(const std::filesystem::path& path, const std::vector<CaseMetrics>& cases) {
  write_file_atomic(path, metrics_csv(cases));
}

void write_metrics_json(const std::filesystem::path& path, const std::vector<CaseMetrics>& cases,
                        bool substitute_worst_case) {
  write_file_atomic(path, json_text(metrics_json(cases, substitute_worst_case)) + "\n");
}

}  // namespace medport::metrics
