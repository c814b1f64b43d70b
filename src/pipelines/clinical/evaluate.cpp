#include "medport/pipelines/clinical/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "medport/error.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/phantom/views.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/number_list.hpp"

namespace medport::pipelines::clinical {
namespace {

namespace fs = std::filesystem;

// Case name -> file; in a folder holding *_gt / *_seg files only those count (images beside them don't).
std::map<std::string, fs::path> cases_in(const fs::path& folder) {
  const auto files = imaging::label_map_files(folder);
  auto tagged = [](const fs::path& f) { return imaging::matching_case_name(f) != imaging::stem_without_ending(f); };
  const bool any_tagged = std::any_of(files.begin(), files.end(), tagged);
  std::map<std::string, fs::path> cases;
  for (const auto& f : files) {
    if (any_tagged && !tagged(f)) continue;
    const auto [it, inserted] = cases.emplace(imaging::matching_case_name(f), f);
    if (!inserted)
      throw InputError(folder.string(), "two label maps for case '" + it->first + "': " + it->second.filename().string() +
                                            " and " + f.filename().string());
  }
  if (cases.empty()) throw InputError(folder.string(), "no label maps (.nii.gz .nii .mha .mhd .npy .png ...) found");
  return cases;
}

std::vector<std::pair<fs::path, fs::path>> pair_inputs(const EvaluateRequest& request, std::vector<std::string>& notes) {
  const fs::path &pred = request.prediction, &ref = request.reference;
  for (const auto& p : {pred, ref})
    if (!fs::exists(p)) throw InputError(p.string(), "no such file or folder");
  if (fs::is_directory(pred) != fs::is_directory(ref)) throw UsageError("PRED and GT must both be files or both be folders");
  if (!fs::is_directory(pred)) return {{pred, ref}};
  const auto predictions = cases_in(pred), references = cases_in(ref);
  std::vector<std::pair<fs::path, fs::path>> pairs;
  std::string missing;
  std::size_t missing_count = 0;
  for (const auto& [name, ref_file] : references) {
    const auto it = predictions.find(name);
    if (it == predictions.end()) {
      if (++missing_count <= 5) missing += (missing.empty() ? "" : ", ") + name;
      continue;
    }
    pairs.emplace_back(it->second, ref_file);
  }
  if (missing_count > 0)
    throw InputError(pred.string(), "no prediction for " + std::to_string(missing_count) + " reference case(s): " +
                                        missing + (missing_count > 5 ? ", ..." : ""));
  if (predictions.size() > pairs.size())
    notes.push_back("note: " + std::to_string(predictions.size() - pairs.size()) +
                    " prediction(s) without a reference were ignored");
  return pairs;
}

// The reference's spacing wins, then the prediction's, then a spacing.json beside the reference;
// without any, distances are in pixels (said once).
metrics::CaseMetrics evaluate_pair(const EvaluateRequest& request, const fs::path& pred_file, const fs::path& ref_file,
                                   const metrics::MetricsOptions& options, std::vector<std::string>& notes) {
  auto reference = imaging::read_label_map(ref_file, request.spacing);
  auto prediction = imaging::read_label_map(pred_file, request.spacing);
  if (prediction.image.shape != reference.image.shape)
    throw InputError(pred_file.string(), "shape differs from the reference " + ref_file.string());
  if (!request.spacing) {
    if (reference.spacing_from_file) {
      prediction.image.spacing = reference.image.spacing;
    } else if (prediction.spacing_from_file) {
      reference.image.spacing = prediction.image.spacing;
    } else if (auto sidecar = spacing_from_sidecar(ref_file, view_in_name(ref_file));
               sidecar && sidecar->size() == reference.image.spacing.size()) {
      reference.image.spacing = prediction.image.spacing = *sidecar;
    } else {
      const std::string note = "warning: " + ref_file.string() + " carries no spacing; distances are in pixels (1 mm) - pass --spacing";
      if (std::none_of(notes.begin(), notes.end(), [](const auto& n) { return n.find("carries no spacing") != n.npos; }))
        notes.push_back(note);
    }
  }
  metrics::CaseMetrics result;
  result.case_id = imaging::matching_case_name(ref_file);
  result.labels = metrics::segmentation_metrics(prediction.image, reference.image, options);
  return result;
}

std::string summary_csv(const metrics::AggregateTable& table) {
  std::string text = "label,metric,mean,std,count,nan_count,substituted\n";
  auto number = [](double v) {
    return std::isnan(v) ? std::string("nan") : std::isinf(v) ? std::string(v > 0 ? "inf" : "-inf") : fmt::format("{:.17g}", v);
  };
  for (const auto& [label, by_metric] : table)
    for (const auto& name : metrics::metric_names()) {
      const auto it = by_metric.find(name);
      if (it == by_metric.end()) continue;
      const auto& s = it->second;
      text += fmt::format("{},{},{},{},{},{},{}\n", label, name, number(s.mean), number(s.std), s.count, s.nan_count,
                          s.substituted);
    }
  return text;
}

}  // namespace

std::vector<std::uint8_t> parse_label_list(const std::string& text) {
  std::vector<std::uint8_t> labels;
  if (text.empty()) return labels;
  const auto numbers = split_numbers(text);
  const auto is_label = [](double v) { return v >= 1 && v <= 255 && v == std::floor(v); };
  if (!numbers || !std::all_of(numbers->begin(), numbers->end(), is_label))
    throw UsageError("--labels '" + text + "': expected labels 1..255 separated by commas");
  for (double v : *numbers) labels.push_back(static_cast<std::uint8_t>(v));
  return labels;
}

EvaluateResult evaluate(const EvaluateRequest& request) {
  metrics::MetricsOptions options;
  options.labels = request.labels;
  options.ignore_empty = !request.count_empty;
  EvaluateResult result;
  for (const auto& [pred, ref] : pair_inputs(request, result.notes))
    result.cases.push_back(evaluate_pair(request, pred, ref, options, result.notes));
  result.table = metrics::aggregate_metrics(result.cases, !request.keep_inf);
  return result;
}

std::vector<fs::path> write_evaluation(const fs::path& dir, const EvaluateResult& result, bool keep_inf) {
  const std::vector<fs::path> files{dir / "metrics.csv", dir / "summary.csv", dir / "metrics.json"};
  metrics::write_metrics_csv(files[0], result.cases);
  write_file_atomic(files[1], summary_csv(result.table));
  metrics::write_metrics_json(files[2], result.cases, !keep_inf);
  return files;
}

}  // namespace medport::pipelines::clinical
