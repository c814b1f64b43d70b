#pragma once
// Object-level retrieval over a memory bank's prototypes and examples, and similarity-weighted
// fusion of what was retrieved (IRIS: per class, the reference whose embedding is most similar).
//
//   using namespace medport::pipelines::fewshot;
//   const BankContents bank = MemoryBankStore::open("bank.npz").contents();
//   const auto candidates = retrieval_candidates(bank);           // prototypes + examples
//   Tensor probe = model.encode_support(image, masks);            // (1,K,M,C)
//   auto hits = top_k(class_slice(probe, 0), candidates, 3, 1);   // same class id only
//   Tensor fused = fuse(hits);                                    // (M,C), softmax(sim / 0.1)
//   Tensor tokens = retrieve_fused(probe, {1, 2}, candidates);    // (1,K,M,C) for segment()
//   // unseen classes: probe with the query's own first prediction (here K = 1), search every
//   // class (-1)
//   Tensor own = probe_from_prediction(model, query, model.segment(query, first_guess));
//   Tensor tokens2 = retrieve_fused(own, {-1}, candidates, 3);
//
// Similarity is the cosine of the flattened (M,C) embeddings; a zero vector has similarity 0.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

struct RetrievalCandidate {
  std::int64_t class_id = 0;
  std::string source;  // example's source name; "prototype" for a class prototype
  bool is_prototype = false;
  Tensor embedding;  // (M,C)
};

struct RetrievalHit {
  RetrievalCandidate candidate;
  double similarity = 0.0;
};

enum class CandidateSet { Prototypes, Examples, Both };

// The bank's prototypes (class id order) followed by its examples (insertion order).
std::vector<RetrievalCandidate> retrieval_candidates(const BankContents& bank, CandidateSet which = CandidateSet::Both);

// Cosine similarity of two embeddings of equal element count, flattened, in double.
// 0 when either has zero norm; InputError when the sizes differ.
double cosine_similarity(const Tensor& a, const Tensor& b);

// The k candidates most similar to `probe` (M,C), best first; ties keep candidate order.
// With `class_id`, only candidates of that class compete. Fewer than k when fewer exist.
std::vector<RetrievalHit> top_k(const Tensor& probe, const std::vector<RetrievalCandidate>& candidates, std::size_t k,
                                std::optional<std::int64_t> class_id = std::nullopt);

constexpr double kDefaultFusionTemperature = 0.1;

// Fusion weights: softmax(similarity / temperature) over the hits (sum to 1). Cosine
// similarities of IRIS embeddings crowd near 1, so temperature 1 would be close to a plain
// mean; 0.1 lets a 0.1 gap in similarity mean a factor e in weight. temperature > 0.
std::vector<double> fusion_weights(const std::vector<RetrievalHit>& hits,
                                   double temperature = kDefaultFusionTemperature);
// The convex combination sum_i w_i E_i of the hits' embeddings with fusion_weights (M,C).
// InputError when there are no hits.
Tensor fuse(const std::vector<RetrievalHit>& hits, double temperature = kDefaultFusionTemperature);

// Row k of (1,K,M,C) or (K,M,C) embeddings as (M,C).
Tensor class_slice(const Tensor& embeddings, std::int64_t k);

// For each class k of `probes` (1,K,M,C): top-k among candidates of class_ids[k] (any class when
// class_ids[k] < 0), fused. Returns (1,K,M,C) for IrisModel::segment. InputError naming the
// class when nothing can be retrieved for it.
Tensor retrieve_fused(const Tensor& probes, const std::vector<std::int64_t>& class_ids,
                      const std::vector<RetrievalCandidate>& candidates, std::size_t k = 1,
                      double temperature = kDefaultFusionTemperature);

// A probe from the query itself: the query encoded as a support with its own initial prediction
// (logits > 0, i.e. sigmoid > 0.5) as masks. (1,1,D,H,W) + (1,K,D,H,W) -> (1,K,M,C).
Tensor probe_from_prediction(const IrisModel& model, const Tensor& query, const Tensor& logits);

}  // namespace medport::pipelines::fewshot
