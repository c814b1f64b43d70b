#pragma once
// Task embeddings of the few-shot pipeline, by strategy:
//   one-shot  encode(support, masks)
//   ensemble  per class k, sum_i w_ik encode(support_i, masks_i) (ensemble.hpp): mean (1/N, as
//             context_ensemble), weighted (user weights per support, else support mask sizes),
//             confidence (the support whose own prediction of the query is the most confident);
//             soft: the supports' predictions fused with confidence weights (fuse_soft)
//   memory    the memory bank's prototypes of the classes (--bank, else MODEL_DIR/memory_bank.npz);
//             with --retrieval top-k, per class the k stored entries (prototypes and examples)
//             most similar to a probe, fused by softmax(similarity / T) (retrieval.hpp). The probe
//             is the supports' embeddings (their mean when several), else the query encoded with
//             its own first prediction (from the class prototypes), per query.
//   tune      in-context tuning (tuning.hpp) on each query, from the supports' embeddings (mean
//             of several) or the bank's, against --query-mask or the first prediction's pseudo-labels
// --update-bank adds every support's embeddings to the --bank file (a MemoryBankStore; seeded
// from MODEL_DIR/memory_bank.npz when the file is new) before anything is predicted, and each
// query that comes with a reference mask after it is predicted.
// Support embeddings are computed once per run; strategies that depend on the query
// (confidence ensemble, tune) work per query.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/pipelines/fewshot/bank_backend.hpp"
#include "medport/pipelines/fewshot/ensemble.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/pipelines/fewshot/retrieval.hpp"
#include "medport/pipelines/fewshot/settings.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

// Supports at the model's volume shape: images (N,1,D,H,W), masks (N,K,D,H,W).
struct SupportSet {
  Tensor images;
  Tensor masks;
  nlohmann::json description = nlohmann::json::array();  // per support: files, hashes, voxels per class
};

struct Prediction {
  Tensor logits;                      // (1,K,D,H,W)
  // Strategies that fuse predictions (the soft ensemble) give their probabilities here;
  // `logits` are then their log-odds. Empty: sigmoid(logits).
  std::vector<float> probabilities;
  nlohmann::json details = nlohmann::json::object();  // strategy-specific facts for the case JSON
  double predict_seconds = 0.0;       // forward passes (and tuning) for this query
};

class StrategyRunner {
 public:
  StrategyRunner(const IrisModel& model, const FewshotSettings& settings,
                 const std::filesystem::path& model_dir, const std::vector<std::int64_t>& classes,
                 std::optional<SupportSet> supports);
  // query (1,1,D,H,W); query_masks (1,K,D,H,W) when the user gave --query-mask.
  Prediction predict(const Tensor& query, const std::optional<Tensor>& query_masks) const;
  // Several queries: one forward pass of batch B when the strategy's embeddings do not depend on
  // the query (one-shot, mean and weighted ensembles, memory by class or probed by supports),
  // else predict() on each. The same predictions either way.
  std::vector<Prediction> predict_batch(std::span<const Tensor> queries,
                                        std::span<const std::optional<Tensor>> query_masks) const;
  // --update-bank with a labelled query: its embeddings (the query encoded with its reference
  // masks (1,K,D,H,W)) are added to the bank under `source`. Returns the facts for the case JSON.
  nlohmann::json learn_from_query(const Tensor& query, const Tensor& query_masks, const std::string& source) const;
  // Facts about the shared preparation (support encoding time, bank file...).
  const nlohmann::json& preparation() const { return preparation_; }

 private:
  bool shares_embeddings() const;
  // The facts every prediction of this run reports.
  nlohmann::json common_details() const;
  nlohmann::json retrieval_details(const char* probe, const nlohmann::json& classes) const;
  // The supports' embeddings, averaged when there are several: (1,K,M,C).
  Tensor mean_of_supports() const;
  void encode_supports();
  void update_bank();
  std::unique_ptr<MemoryBankBackend> open_store() const;
  Tensor bank_embeddings();
  void prepare_top_k();
  // Per class: top-k of the same class id among the bank's entries, fused; (1,K,M,C). `report`
  // gets one entry per class listing what was retrieved.
  Tensor retrieve_top_k(const Tensor& probes, nlohmann::json& report) const;

  const IrisModel& model_;
  const FewshotSettings& settings_;
  std::filesystem::path model_dir_;
  std::vector<std::int64_t> classes_;
  std::optional<SupportSet> supports_;
  Tensor support_embeddings_;                  // (N,K,m+1,C), each support encoded on its own
  Tensor shared_embeddings_;                   // the query-independent embeddings (1,K,m+1,C)
  Tensor tuning_start_;                        // tune: the embeddings tuning starts from
  SupportByClass ensemble_weights_;  // weighted ensemble: [support][class]
  std::vector<RetrievalCandidate> candidates_;  // top-k: the bank's entries
  Tensor first_guess_embeddings_;              // top-k without supports: class prototypes
  nlohmann::json retrieval_report_;            // top-k with supports: what was retrieved
  nlohmann::json preparation_ = nlohmann::json::object();
};

}  // namespace medport::pipelines::fewshot
