#include "medport/pipelines/fewshot/strategy_runner.hpp"

#include <algorithm>
#include <cmath>

#include "medport/pipelines/fewshot/bank_backend.hpp"
#include "medport/pipelines/fewshot/bank_files.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/ensemble.hpp"
#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/pipelines/fewshot/tuning.hpp"
#include "medport/util/stopwatch.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Logits of fused probabilities, log(p / (1 - p)) with p kept within [1e-7, 1 - 1e-7], in the
// shape of a (1,K,D,H,W) prediction for `query` (1,1,D,H,W).
Tensor logits_of(const std::vector<float>& probabilities, const Tensor& query, std::int64_t classes) {
  Shape shape = query.shape();
  shape[1] = classes;
  std::vector<float> x(probabilities.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double p = std::clamp(static_cast<double>(probabilities[i]), 1e-7, 1.0 - 1e-7);
    x[i] = static_cast<float>(std::log(p) - std::log1p(-p));
  }
  return Tensor::from_f32(shape, x);
}

json weights_json(const SupportByClass& w) {
  json out = json::array();
  for (const auto& per_support : w) out.push_back(per_support);
  return out;
}

}  // namespace

StrategyRunner::StrategyRunner(const IrisModel& model, const FewshotSettings& settings, const fs::path& model_dir,
                               const std::vector<std::int64_t>& classes, std::optional<SupportSet> supports)
    : model_(model), settings_(settings), model_dir_(model_dir), classes_(classes), supports_(std::move(supports)) {
  const Stopwatch start;
  if (supports_) encode_supports();
  if (settings_.update_bank && supports_) update_bank();
  const std::string& s = settings_.strategy;
  if (s == "one-shot") {
    shared_embeddings_ = support_embeddings_;
  } else if (s == "ensemble" && settings_.ensemble != "soft") {
    const auto mode = parse_ensemble_mode(settings_.ensemble);
    if (mode == EnsembleMode::Mean) shared_embeddings_ = mean_embeddings(support_embeddings_);
    if (mode == EnsembleMode::Weighted) {
      const auto& user = settings_.ensemble_weights;
      const auto n = static_cast<std::size_t>(support_embeddings_.shape()[0]);
      if (!user.empty() && user.size() != n)
        throw UsageError("--ensemble-weights gives " + std::to_string(user.size()) + " weights for " + std::to_string(n) +
                         " supports");
      ensemble_weights_ = user.empty() ? mask_size_weights(supports_->masks)
                                       : normalized_support_weights(user, static_cast<std::int64_t>(classes_.size()));
      shared_embeddings_ = weighted_embeddings(support_embeddings_, ensemble_weights_);
    }
    // confidence and soft: each support predicts each query in predict()
  } else if (s == "memory" && settings_.retrieval == "top-k") {
    prepare_top_k();
  } else if (s == "memory") {
    shared_embeddings_ = bank_embeddings();
  } else if (s == "tune") {
    if (!model_.can_tune())
      throw InputError(model_dir_.string(), "has no tune_step.onnx for in-context tuning; re-run medport convert");
    tuning_start_ = supports_ ? mean_of_supports() : bank_embeddings();
    preparation_["tuning_start"] = supports_ ? "supports" : "memory bank";
  }
  preparation_["encode_seconds"] = start.seconds();
}

Tensor StrategyRunner::mean_of_supports() const {
  return support_embeddings_.shape()[0] == 1 ? support_embeddings_ : mean_embeddings(support_embeddings_);
}

void StrategyRunner::encode_supports() {
  support_embeddings_ = stack_rows(encode_each_support(model_, supports_->images, supports_->masks));
}

std::unique_ptr<MemoryBankBackend> StrategyRunner::open_store() const {
  const std::string location = settings_.bank;  // validate() requires --bank with --update-bank
  return fs::exists(model_dir_ / "memory_bank.npz") ? open_or_seed_bank(location, model_dir_, model_.memory_momentum())
                                                    : open_or_create_bank(location, model_.memory_momentum());
}

void StrategyRunner::update_bank() {
  const std::string location = settings_.bank;
  // For the report (a file's absence before the update); the store decides under its lock.
  const bool seeded =
      fs::exists(model_dir_ / "memory_bank.npz") && !is_postgres_location(location) && !fs::exists(location);
  const auto store = open_store();
  const std::int64_t n = support_embeddings_.shape()[0];
  for (std::int64_t i = 0; i < n; ++i)
    store->update(row_of(support_embeddings_, i), classes_, supports_->description[static_cast<std::size_t>(i)].value("image", ""));
  preparation_["bank_updated"] = {{"file", store->location()}, {"supports_added", n}, {"seeded_from_model", seeded}};
}

Tensor StrategyRunner::bank_embeddings() {
  const fs::path file = bank_file_for(settings_, model_dir_);
  const auto bank = load_bank(file, model_.memory_momentum());
  preparation_["bank"] = display_location(file.string());
  preparation_["bank_class_ids"] = bank.class_ids();
  return bank.retrieve(classes_);
}

void StrategyRunner::prepare_top_k() {
  const fs::path file = bank_file_for(settings_, model_dir_);
  const auto contents = read_bank_contents(file, model_.memory_momentum());
  candidates_ = retrieval_candidates(contents);
  preparation_["bank"] = display_location(file.string());
  preparation_["bank_class_ids"] = contents.bank.class_ids();
  preparation_["bank_examples"] = contents.examples.size();
  if (supports_) {
    shared_embeddings_ = retrieve_top_k(mean_of_supports(), retrieval_report_);
  } else {
    first_guess_embeddings_ = contents.bank.retrieve(classes_);
  }
}

Tensor StrategyRunner::retrieve_top_k(const Tensor& probes, json& report) const {
  const double temperature = settings_.fusion_temperature;
  report = json::array();
  std::vector<float> fused_all;
  Shape entry_shape;
  for (std::size_t k = 0; k < classes_.size(); ++k) {
    const auto hits = top_k(class_slice(probes, static_cast<std::int64_t>(k)), candidates_,
                                 static_cast<std::size_t>(settings_.top_k), classes_[k]);
    if (hits.empty())
      throw InputError(bank_file_for(settings_, model_dir_).string(),
                       "holds nothing of class " + std::to_string(classes_[k]) + " to retrieve");
    const auto weights = fusion_weights(hits, temperature);
    const Tensor fused = fuse(hits, temperature);
    entry_shape = fused.shape();
    const auto v = fused.to_f32();
    fused_all.insert(fused_all.end(), v.begin(), v.end());
    json retrieved = json::array();
    for (std::size_t i = 0; i < hits.size(); ++i)
      retrieved.push_back({{"class_id", hits[i].candidate.class_id},
                           {"source", hits[i].candidate.source},
                           {"prototype", hits[i].candidate.is_prototype},
                           {"similarity", hits[i].similarity},
                           {"weight", weights[i]}});
    report.push_back({{"class_id", classes_[k]}, {"retrieved", retrieved}});
  }
  Shape shape{1, static_cast<std::int64_t>(classes_.size())};
  shape.insert(shape.end(), entry_shape.begin(), entry_shape.end());
  return Tensor::from_f32(shape, fused_all);
}

nlohmann::json StrategyRunner::learn_from_query(const Tensor& query, const Tensor& query_masks, const std::string& source) const {
  // The query with its reference mask is one more labelled example, added after it was
  // predicted (its own mask never helps its own prediction), as the guide's online update.
  const auto store = open_store();
  store->update(model_.encode_support(query, query_masks), classes_, source);
  return {{"file", store->location()}, {"added", source}};
}

bool StrategyRunner::shares_embeddings() const {
  const std::string& s = settings_.strategy;
  if (s == "one-shot") return true;
  if (s == "ensemble") return settings_.ensemble == "mean" || settings_.ensemble == "weighted";
  if (s == "memory") return settings_.retrieval == "class" || supports_.has_value();
  return false;
}

json StrategyRunner::common_details() const {
  json d = json::object();
  const std::string& s = settings_.strategy;
  if (s == "ensemble") {
    d["ensemble"] = settings_.ensemble;
    d["supports"] = support_embeddings_.shape()[0];
    if (!ensemble_weights_.empty()) d["weights"] = weights_json(ensemble_weights_);
  }
  if (s == "memory" && settings_.retrieval == "top-k" && supports_)
    d["retrieval"] = retrieval_details("supports", retrieval_report_);
  if (s == "memory") d["bank"] = preparation_.value("bank", "");
  if (preparation_.contains("bank_updated")) d["bank_updated"] = preparation_["bank_updated"];
  return d;
}

json StrategyRunner::retrieval_details(const char* probe, const json& classes) const {
  return {{"mode", "top-k"},
          {"k", settings_.top_k},
          {"fusion_temperature", settings_.fusion_temperature},
          {"probe", probe},
          {"classes", classes}};
}

Prediction StrategyRunner::predict(const Tensor& query, const std::optional<Tensor>& query_masks) const {
  Prediction p;
  const Stopwatch start;
  p.details = common_details();
  const std::string& s = settings_.strategy;
  if (shares_embeddings()) {
    p.logits = model_.segment(query, shared_embeddings_);
  } else if (s == "ensemble" && settings_.ensemble == "confidence") {
    // Each support alone predicts the query; the best-scoring one per class is kept.
    SupportByClass scores;
    for (std::int64_t i = 0; i < support_embeddings_.shape()[0]; ++i)
      scores.push_back(confidence_scores(model_.segment(query, row_of(support_embeddings_, i))));
    const auto weights = keep_best(scores, 1);
    p.logits = model_.segment(query, weighted_embeddings(support_embeddings_, weights));
    p.details["scores"] = weights_json(scores);
    p.details["weights"] = weights_json(weights);
  } else if (s == "ensemble") {  // soft
    auto fused = soft_ensemble(model_, support_embeddings_, query);
    p.details["confidences"] = weights_json(fused.confidences);
    p.details["weights"] = weights_json(fused.weights);
    p.logits = logits_of(fused.probabilities, query, static_cast<std::int64_t>(classes_.size()));
    p.probabilities = std::move(fused.probabilities);
  } else if (s == "tune") {
    TuningOptions options;
    options.steps = settings_.tune_steps;
    options.learning_rate = settings_.tune_lr;
    options.threshold = settings_.masks.threshold;
    const auto result = tune_embeddings(model_, query, tuning_start_, query_masks, options);
    p.logits = result.logits;
    p.details.update({{"steps", settings_.tune_steps},
                      {"learning_rate", settings_.tune_lr},
                      {"target", query_masks ? "query mask" : "pseudo-labels of the first prediction"},
                      {"start", preparation_.value("tuning_start", "")},
                      {"losses", result.losses}});
  } else {  // memory, top-k retrieval probed by the query's own first prediction
    json retrieved;
    const Tensor tokens =
        retrieve_top_k(probe_from_prediction(model_, query, model_.segment(query, first_guess_embeddings_)), retrieved);
    p.logits = model_.segment(query, tokens);
    p.details["retrieval"] = retrieval_details("query's first prediction", retrieved);
  }
  p.predict_seconds = start.seconds();
  return p;
}

std::vector<Prediction> StrategyRunner::predict_batch(std::span<const Tensor> queries,
                                                      std::span<const std::optional<Tensor>> query_masks) const {
  std::vector<Prediction> out;
  if (!shares_embeddings() || queries.size() < 2) {
    for (std::size_t i = 0; i < queries.size(); ++i) out.push_back(predict(queries[i], query_masks[i]));
    return out;
  }
  // One forward pass for all: queries stacked on the batch axis, the shared embeddings repeated.
  const Stopwatch start;
  const auto n = static_cast<std::int64_t>(queries.size());
  const Tensor logits = model_.segment(stack_rows({queries.begin(), queries.end()}),
                                       stack_rows(std::vector<Tensor>(queries.size(), shared_embeddings_)));
  const double each = start.seconds() / static_cast<double>(n);
  const json details = common_details();
  for (std::int64_t b = 0; b < n; ++b) {
    Prediction p;
    p.logits = row_of(logits, b);
    p.details = details;
    p.predict_seconds = each;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace medport::pipelines::fewshot
