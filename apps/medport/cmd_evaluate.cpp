// `medport evaluate PRED GT [--labels 1,2,3] [-o DIR]`: per-label Dice, IoU, precision, recall,
// Hausdorff, HD95 and ASSD (mm) of predicted label maps against references, per case and as
// mean/std over cases. PRED and GT are two files or two folders matched by case name
// (`<case>_seg.*` / `<case>_gt.*` / `<case>.*`). Conventions: docs/METRICS.md.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "command.hpp"
#include "medport/error.hpp"
#include "medport/metrics/aggregate.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/phantom/views.hpp"
#include "medport/util/file_io.hpp"

namespace {

namespace fs = std::filesystem;
namespace clinical = medport::pipelines::clinical;
namespace imaging = medport::imaging;
namespace metrics = medport::metrics;
using medport::InputError;
using medport::UsageError;

struct EvaluateArgs {
  std::string prediction, reference;
  std::string labels;
  std::string spacing;
  std::string output_dir;
  bool keep_inf = false;
  bool count_empty = false;
};

std::vector<std::uint8_t> parse_labels(const std::string& text) {
  std::vector<std::uint8_t> labels;
  if (text.empty()) return labels;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    int value = -1;
    std::size_t used = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || value < 1 || value > 255)
      throw UsageError("--labels '" + text + "': expected labels 1..255 separated by commas");
    labels.push_back(static_cast<std::uint8_t>(value));
    start = comma + 1;
  }
  return labels;
}

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

std::vector<std::pair<fs::path, fs::path>> pair_inputs(const EvaluateArgs& args) {
  const fs::path pred(args.prediction), ref(args.reference);
  for (const auto& p : {pred, ref})
    if (!fs::exists(p)) throw InputError(p.string(), "no such file or folder");
  if (fs::is_directory(pred) != fs::is_directory(ref))
    throw UsageError("PRED and GT must both be files or both be folders");
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
    std::fprintf(stderr, "note: %zu prediction(s) without a reference were ignored\n", predictions.size() - pairs.size());
  return pairs;
}

metrics::CaseMetrics evaluate_pair(const EvaluateArgs& args, const fs::path& pred_file, const fs::path& ref_file,
                                   const metrics::MetricsOptions& options, bool& warned_spacing) {
  std::optional<std::vector<double>> spacing;
  if (!args.spacing.empty()) spacing = imaging::parse_spacing(args.spacing, 2, 3);
  auto reference = imaging::read_label_map(ref_file, spacing);
  auto prediction = imaging::read_label_map(pred_file, spacing);
  if (prediction.image.shape != reference.image.shape)
    throw InputError(pred_file.string(), "shape differs from the reference " + ref_file.string());
  if (!spacing) {
    if (reference.spacing_from_file) {
      prediction.image.spacing = reference.image.spacing;
    } else if (prediction.spacing_from_file) {
      reference.image.spacing = prediction.image.spacing;
    } else if (auto sidecar = clinical::spacing_from_sidecar(ref_file, clinical::view_in_name(ref_file));
               sidecar && sidecar->size() == reference.image.spacing.size()) {
      reference.image.spacing = prediction.image.spacing = *sidecar;
    } else if (!warned_spacing) {
      std::fprintf(stderr, "warning: %s carries no spacing; distances are in pixels (1 mm) - pass --spacing\n",
                   ref_file.string().c_str());
      warned_spacing = true;
    }
  }
  metrics::CaseMetrics result;
  result.case_id = imaging::matching_case_name(ref_file);
  result.labels = metrics::segmentation_metrics(prediction.image, reference.image, options);
  return result;
}

void write_summary_csv(const fs::path& path, const metrics::AggregateTable& table) {
  std::string text = "label,metric,mean,std,count,nan_count,substituted\n";
  auto number = [](double v) { return std::isnan(v) ? std::string("nan") : std::isinf(v) ? std::string(v > 0 ? "inf" : "-inf") : fmt::format("{:.17g}", v); };
  for (const auto& [label, by_metric] : table)
    for (const auto& name : metrics::metric_names()) {
      const auto it = by_metric.find(name);
      if (it == by_metric.end()) continue;
      const auto& s = it->second;
      text += fmt::format("{},{},{},{},{},{},{}\n", label, name, number(s.mean), number(s.std), s.count, s.nan_count,
                          s.substituted);
    }
  medport::write_file_atomic(path, text);
}

int run(const EvaluateArgs& args) {
  metrics::MetricsOptions options;
  options.labels = parse_labels(args.labels);
  options.ignore_empty = !args.count_empty;
  const auto pairs = pair_inputs(args);
  std::vector<metrics::CaseMetrics> cases;
  bool warned_spacing = false;
  for (const auto& [pred, ref] : pairs) cases.push_back(evaluate_pair(args, pred, ref, options, warned_spacing));

  const auto table = metrics::aggregate_metrics(cases, !args.keep_inf);
  std::printf("%zu case(s); mean +- std over cases (NaN cases left out%s)\n", cases.size(),
              args.keep_inf ? "" : ", inf distances replaced by the image diagonal");
  std::printf("%5s", "label");
  for (const auto& name : metrics::metric_names()) std::printf(" %20s", name.c_str());
  std::printf("\n");
  for (const auto& [label, by_metric] : table) {
    std::printf("%5d", label);
    for (const auto& name : metrics::metric_names()) {
      const auto& s = by_metric.at(name);
      std::printf(" %20s", fmt::format("{:.4f} +- {:.4f}", s.mean, s.std).c_str());
    }
    std::printf("\n");
  }
  if (!args.output_dir.empty()) {
    const fs::path dir(args.output_dir);
    metrics::write_metrics_csv(dir / "metrics.csv", cases);
    write_summary_csv(dir / "summary.csv", table);
    metrics::write_metrics_json(dir / "metrics.json", cases, !args.keep_inf);
    std::printf("wrote %s, %s, %s\n", (dir / "metrics.csv").string().c_str(), (dir / "summary.csv").string().c_str(),
                (dir / "metrics.json").string().c_str());
  }
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<EvaluateArgs>();
  auto* cmd = root.add_subcommand("evaluate", "Dice, IoU, precision, recall, HD, HD95, ASSD of label maps vs references");
  cmd->add_option("prediction", args->prediction, "predicted label map, or a folder of them")->required();
  cmd->add_option("reference", args->reference, "reference label map (GT), or a folder of them")->required();
  cmd->add_option("--labels", args->labels, "labels to evaluate, e.g. 1,2,3 (default: every non-zero label present)");
  cmd->add_option("--spacing", args->spacing, "spacing in mm per axis, array order (e.g. ROW,COL); replaces the files'");
  cmd->add_option("-o,--output", args->output_dir, "write metrics.csv (per case), summary.csv and metrics.json here");
  cmd->add_flag("--keep-inf", args->keep_inf, "do not replace infinite distances (one mask empty) by the image diagonal");
  cmd->add_flag("--count-empty", args->count_empty,
                "Dice/IoU with an empty reference: 1 if the prediction is empty too, else 0 (default: NaN, left out)");
  return [args] { return run(*args); };
}

}  // namespace
MEDPORT_COMMAND(setup);
