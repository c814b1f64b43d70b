#include "medport/pipelines/fewshot/settings.hpp"

#include <cmath>
#include <map>
#include <set>

#include "medport/error.hpp"
#include "medport/util/number_list.hpp"

namespace medport::pipelines::fewshot {

std::string canonical_strategy(const std::string& name) {
  static const std::map<std::string, std::string> names{{"one-shot", "one-shot"}, {"oneshot", "one-shot"},
                                                        {"one_shot", "one-shot"}, {"ensemble", "ensemble"},
                                                        {"memory", "memory"},     {"memory_bank", "memory"},
                                                        {"tune", "tune"},         {"tuning", "tune"}};
  const auto it = names.find(name);
  if (it == names.end())
    throw UsageError("strategy '" + name + "' is not one of one-shot, ensemble, memory, tune (the guide's oneshot, "
                     "ensemble, memory_bank, tuning also work)");
  return it->second;
}

void apply_typed_supports(const TypedSupports& typed, FewshotSettings& s) {
  if (typed.images.size() != typed.masks.size())
    throw UsageError("every --support needs its --support-mask (" + std::to_string(typed.images.size()) + " images, " +
                     std::to_string(typed.masks.size()) + " masks)");
  if (!typed.images.empty()) {
    s.supports.clear();
    if (!typed.pool) s.pool.dir.clear();
    for (std::size_t i = 0; i < typed.images.size(); ++i) s.supports.push_back({typed.images[i], typed.masks[i]});
  }
  if (typed.pool) s.supports.clear();
  const bool several = s.supports.size() > 1 || (!s.pool.dir.empty() && s.pool.num_support > 1);
  if (s.strategy == "one-shot" && several && !typed.strategy && !typed.config) s.strategy = "ensemble";
}

void check_queries(const FewshotSettings& s, std::size_t queries, bool query_mask) {
  if (query_mask && queries != 1) throw UsageError("--query-mask goes with a single --query");
  if (s.update_bank && s.supports.empty() && s.pool.dir.empty() && !query_mask)
    throw UsageError("--update-bank needs supports or a --query-mask to learn from");
}

void validate_values(const FewshotSettings& s) {
  static const std::set<std::string> strategies{"one-shot", "ensemble", "memory", "tune"};
  static const std::set<std::string> ensembles{"mean", "weighted", "confidence", "soft"};
  if (!strategies.count(s.strategy))
    throw UsageError("strategy '" + s.strategy + "' is not one of one-shot, ensemble, memory, tune");
  if (!ensembles.count(s.ensemble))
    throw UsageError("ensemble '" + s.ensemble + "' is not one of mean, weighted, confidence, soft");
  for (double w : s.ensemble_weights)
    if (!(w >= 0.0) || !std::isfinite(w)) throw UsageError("ensemble weights must be non-negative numbers");
  if (s.pool.select != "random" && s.pool.select != "quality" && s.pool.select != "diversity")
    throw UsageError("support selection '" + s.pool.select + "' is not one of random, quality, diversity");
  if (s.pool.num_support < 0 || s.pool.num_support > 1000) throw UsageError("--num-support must lie in 1..1000");
  if (!(s.min_object_size >= 0.0) || !std::isfinite(s.min_object_size))
    throw UsageError("--min-object-size must be a non-negative number");
  if (s.min_object_unit != "voxels" && s.min_object_unit != "mm3")
    throw UsageError("min object size unit '" + s.min_object_unit + "' is not one of voxels, mm3");
  if (s.batch_size < 1 || s.batch_size > 64) throw UsageError("--batch-size must lie in 1..64");
  if (s.provider != "cpu" && s.provider != "cuda") throw UsageError("device '" + s.provider + "' is not one of cpu, cuda");
  if (s.device < 0) throw UsageError("gpu id must not be negative");
  validate(s.preprocessing);
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
}

void validate(const FewshotSettings& s, bool plot_only) {
  validate_values(s);
  if (!s.ensemble_weights.empty() && s.ensemble != "weighted")
    throw UsageError("ensemble weights go with the weighted ensemble (--ensemble weighted)");
  if (!s.pool.dir.empty() && !s.supports.empty())
    throw UsageError("give supports either one by one (--support) or as a pool (--support-dir), not both");
  if (s.retrieval == "top-k" && s.strategy != "memory" && !plot_only)
    throw UsageError("--retrieval top-k goes with --strategy memory");
  if (plot_only) {
    if (s.bank_plot.empty()) throw UsageError("give --query IMG or --query-dir DIR");
    if (s.update_bank || !s.supports.empty())
      throw UsageError("without --query, --bank-plot only draws the bank: --update-bank and supports need a query");
    return;
  }
  const bool needs_supports = s.strategy == "one-shot" || s.strategy == "ensemble";
  if (needs_supports && s.supports.empty() && s.pool.dir.empty())
    throw UsageError("strategy " + s.strategy + " needs --support IMG --support-mask MASK (or --support-dir DIR)");
  if (s.strategy == "one-shot" && s.supports.size() > 1)
    throw UsageError("one-shot takes exactly one support (" + std::to_string(s.supports.size()) +
                     " given); use --strategy ensemble to combine several");
  if (s.strategy == "one-shot" && s.pool.num_support > 1)
    throw UsageError("one-shot takes exactly one support (--num-support " + std::to_string(s.pool.num_support) +
                     "); use --strategy ensemble to combine several");
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

void parse_min_object_size(const std::string& text, FewshotSettings& settings) {
  std::string number = text, unit = "voxels";
  for (const auto& [suffix, name] : {std::pair<std::string, std::string>{"mm^3", "mm3"}, {"mm3", "mm3"}, {"voxels", "voxels"},
                                     {"vox", "voxels"}})
    if (number.size() > suffix.size() && number.ends_with(suffix)) {
      number.resize(number.size() - suffix.size());
      unit = name;
      break;
    }
  const double v = parse_numbers(number, "--min-object-size", 1, 1)[0];
  if (!(v >= 0.0)) throw UsageError("--min-object-size must not be negative, got '" + text + "'");
  settings.min_object_size = v;
  settings.min_object_unit = unit;
}

std::vector<double> parse_numbers(const std::string& text, const std::string& flag, std::size_t count_min,
                                  std::size_t count_max) {
  const auto out = split_numbers(text);
  if (!out) throw UsageError(flag + " takes numbers separated by commas, got '" + text + "'");
  if (out->size() < count_min || out->size() > count_max)
    throw UsageError(flag + " takes " + std::to_string(count_min) +
                     (count_max > count_min ? " to " + std::to_string(count_max) : std::string()) + " numbers, got '" +
                     text + "'");
  return *out;
}

}  // namespace medport::pipelines::fewshot
