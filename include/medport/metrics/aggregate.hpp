#pragma once
// Summaries of per-case segmentation metrics over a data set, and their CSV / JSON files.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/metrics/segmentation_metrics.hpp"

namespace medport::metrics {

struct CaseMetrics {
  std::string case_id;
  std::vector<LabelMetrics> labels;
};

// Mean and population standard deviation (ddof = 0, like np.std) of one metric for one label.
// NaN values (undefined cases, e.g. Dice with an empty reference) are left out and counted;
// +inf distances are replaced by that case's worst_case_mm when substitution is on (and
// counted), otherwise they make the mean +inf.
struct MetricSummary {
  double mean = 0.0;
  double std = 0.0;
  std::size_t count = 0;        // values that entered the mean
  std::size_t nan_count = 0;    // left out
  std::size_t substituted = 0;  // +inf replaced by the worst case
};

// Names of the metrics, in the column order of the CSV file.
const std::vector<std::string>& metric_names();  // dice, iou, precision, recall, hausdorff_mm, hd95_mm, assd_mm
double metric_value(const LabelMetrics& metrics, const std::string& name);

// label -> metric name -> summary.
using AggregateTable = std::map<int, std::map<std::string, MetricSummary>>;
AggregateTable aggregate_metrics(const std::vector<CaseMetrics>& cases, bool substitute_worst_case = true);

// One row per case and label: case,label,reference_voxels,prediction_voxels,<metric_names()>;
// NaN written as "nan", infinity as "inf".
std::string metrics_csv(const std::vector<CaseMetrics>& cases);
// {"cases": [{"case", "labels": [{"label", ..., metrics (NaN/inf as null)}]}],
//  "summary": {"<label>": {"<metric>": {"mean","std","count","nan_count","substituted"}}},
//  "conventions": {...}}.
nlohmann::json metrics_json(const std::vector<CaseMetrics>& cases, bool substitute_worst_case = true);

void write_metrics_csv(const std::filesystem::path& path, const std::vector<CaseMetrics>& cases);  // atomic
void write_metrics_json(const std::filesystem::path& path, const std::vector<CaseMetrics>& cases,
                        bool substitute_worst_case = true);  // atomic

}  // namespace medport::metrics
