#include "medport/pipelines/fewshot/settings.hpp"

#include <cmath>
#include <set>

#include "medport/error.hpp"

namespace medport::pipelines::fewshot {

void validate(const FewshotSettings& s, bool plot_only) {
  static const std::set<std::string> strategies{"one-shot", "ensemble", "memory", "tune"};
  static const std::set<std::string> ensembles{"mean", "weighted", "confidence"};
  static const std::set<std::string> normalizations{"zscore", "minmax", "none"};
  if (!strategies.count(s.strategy))
    throw UsageError("strategy '" + s.strategy + "' is not one of one-shot, ensemble, memory, tune");
  if (!ensembles.count(s.ensemble)) throw UsageError("ensemble '" + s.ensemble + "' is not one of mean, weighted, confidence");
  if (!normalizations.count(s.normalize)) throw UsageError("normalize '" + s.normalize + "' is not one of zscore, minmax, none");
  if (!(s.masks.threshold > 0.0 && s.masks.threshold < 1.0)) throw UsageError("threshold must lie strictly between 0 and 1");
  if (s.masks.connectivity != 6 && s.masks.connectivity != 26) throw UsageError("connectivity must be 6 or 26");
  if (s.masks.morphology_radius < 0 || s.masks.morphology_radius > 32) throw UsageError("morphology radius must lie in 0..32");
  if (s.tune_steps < 0 || s.tune_steps > 10000) throw UsageError("tuning steps must lie in 0..10000");
  if (!(s.tune_lr > 0.0)) throw UsageError("tuning learning rate must be positive");
  if (s.output.montage_slices < 1 || s.output.montage_slices > 64) throw UsageError("montage slices must lie in 1..64");
  if (s.threads < 0) throw UsageError("threads must not be negative");
  parse_label_format(s.output.format);
  if (s.retrieval != "class" && s.retrieval != "top-k") throw UsageError("retrieval '" + s.retrieval + "' is not one of class, top-k");
  if (s.top_k < 1 || s.top_k > 1000) throw UsageError("--top-k must lie in 1..1000");
  if (!(s.fusion_temperature > 0.0) || !std::isfinite(s.fusion_temperature))
    throw UsageError("--fusion-temperature must be a positive number");
  if (s.retrieval == "top-k" && s.strategy != "memory" && !plot_only)
    throw UsageError("--retrieval top-k goes with --strategy memory");
  if (plot_only) {
    if (s.bank_plot.empty()) throw UsageError("give --query IMG or --query-dir DIR");
    if (s.update_bank || !s.supports.empty())
      throw UsageError("without --query, --bank-plot only draws the bank: --update-bank and supports need a query");
    return;
  }
  const bool needs_supports = s.strategy == "one-shot" || s.strategy == "ensemble";
  if (needs_supports && s.supports.empty())
    throw UsageError("strategy " + s.strategy + " needs --support IMG --support-mask MASK");
  if (s.strategy == "one-shot" && s.supports.size() > 1)
    throw UsageError("one-shot takes exactly one support (" + std::to_string(s.supports.size()) +
                     " given); use --strategy ensemble to combine several");
  if (s.update_bank && s.supports.empty()) throw UsageError("--update-bank needs supports to learn from");
  if (s.update_bank && s.bank.empty())
    throw UsageError("--update-bank needs --bank BANK.npz (the converted model folder is left as it is)");
  if (std::set<std::int64_t>(s.classes.begin(), s.classes.end()).size() != s.classes.size())
    throw UsageError("classes lists a label value twice");
}

std::vector<std::int64_t> parse_class_list(const std::string& text) {
  std::vector<std::int64_t> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 1 || v > 255)
      throw UsageError("--classes takes label values 1..255 separated by commas, got '" + text + "'");
    out.push_back(v);
    start = end + 1;
  }
  return out;
}

}  // namespace medport::pipelines::fewshot
