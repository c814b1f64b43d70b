#pragma once
// What `medport evaluate` computes: per-label Dice, IoU, precision, recall, Hausdorff, HD95 and
// ASSD (mm) of predicted label maps against references, per case and as mean/std over cases.
// The prediction and reference are two files or two folders matched by case name
// (`<case>_seg.*` / `<case>_gt.*` / `<case>.*`). Conventions: docs/METRICS.md.
//
//   clinical::EvaluateRequest request{"preds/", "gt/"};
//   const auto result = clinical::evaluate(request);
//   clinical::write_evaluation("report/", result, request.keep_inf);
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "medport/metrics/aggregate.hpp"

namespace medport::pipelines::clinical {

struct EvaluateRequest {
  std::filesystem::path prediction, reference;
  std::vector<std::uint8_t> labels;              // empty: every non-zero label present
  std::optional<std::vector<double>> spacing;    // mm per axis in array order; replaces the files'
  bool keep_inf = false;     // keep infinite distances (one mask empty) instead of the image diagonal
  bool count_empty = false;  // Dice/IoU with an empty reference: 1 or 0 instead of NaN (left out)
};

struct EvaluateResult {
  std::vector<metrics::CaseMetrics> cases;  // in case-name order
  metrics::AggregateTable table;            // mean/std over cases per label and metric
  std::vector<std::string> notes;           // what the caller should tell the user (spacing, ignored files)
};

// InputError naming the file for missing or mismatched inputs; UsageError for a file paired with a folder.
EvaluateResult evaluate(const EvaluateRequest& request);

// "--labels 1,2,3" -> {1, 2, 3}; UsageError unless every item is a label 1..255.
std::vector<std::uint8_t> parse_label_list(const std::string& text);

// metrics.csv (per case), summary.csv (per label and metric) and metrics.json in `dir`, each atomic.
// Returns the files written.
std::vector<std::filesystem::path> write_evaluation(const std::filesystem::path& dir, const EvaluateResult& result,
                                                    bool keep_inf);

}  // namespace medport::pipelines::clinical
