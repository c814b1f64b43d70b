// `medport evaluate PRED GT [--labels 1,2,3] [-o DIR]`: flags over pipelines::clinical::evaluate
// (per-label Dice, IoU, precision, recall, HD, HD95, ASSD per case and mean/std over cases).
#include <cstdio>

#include <fmt/format.h>

#include "command.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/clinical/evaluate.hpp"

namespace {

namespace clinical = medport::pipelines::clinical;
namespace metrics = medport::metrics;

struct EvaluateArgs {
  std::string prediction, reference;
  std::string labels;
  std::string spacing;
  std::string output_dir;
  bool keep_inf = false;
  bool count_empty = false;
};

void print_table(const clinical::EvaluateResult& result, bool keep_inf) {
  std::printf("%zu case(s); mean +- std over cases (NaN cases left out%s)\n", result.cases.size(),
              keep_inf ? "" : ", inf distances replaced by the image diagonal");
  std::printf("%5s", "label");
  for (const auto& name : metrics::metric_names()) std::printf(" %20s", name.c_str());
  std::printf("\n");
  for (const auto& [label, by_metric] : result.table) {
    std::printf("%5d", label);
    for (const auto& name : metrics::metric_names()) {
      const auto& s = by_metric.at(name);
      std::printf(" %20s", fmt::format("{:.4f} +- {:.4f}", s.mean, s.std).c_str());
    }
    std::printf("\n");
  }
}

int run(const EvaluateArgs& args) {
  clinical::EvaluateRequest request;
  request.prediction = args.prediction;
  request.reference = args.reference;
  request.labels = clinical::parse_label_list(args.labels);
  if (!args.spacing.empty()) request.spacing = medport::imaging::parse_spacing(args.spacing, 2, 3);
  request.keep_inf = args.keep_inf;
  request.count_empty = args.count_empty;
  const auto result = clinical::evaluate(request);
  for (const auto& note : result.notes) std::fprintf(stderr, "%s\n", note.c_str());
  print_table(result, args.keep_inf);
  if (!args.output_dir.empty()) {
    const auto files = clinical::write_evaluation(args.output_dir, result, args.keep_inf);
    std::printf("wrote %s, %s, %s\n", files[0].string().c_str(), files[1].string().c_str(), files[2].string().c_str());
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
