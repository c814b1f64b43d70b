#pragma once
// Context ensembles: several supports, one fused (1,K,M,C) task embedding, one forward pass.
//
//   using namespace medport::pipelines::fewshot;
//   EnsembleOptions opt;
//   opt.mode = EnsembleMode::Confidence;  // or Mean, Weighted
//   opt.keep = 2;                          // confidence: best 2 supports per class
//   EnsembleResult r = run_ensemble(model, images /*(N,1,D,H,W)*/, masks /*(N,K,D,H,W)*/, query, opt);
//   r.logits;            // (1,K,D,H,W)
//   r.weights[i][k];     // weight of support i in class k (sums to 1 over i)
//   r.scores[i][k];      // confidence mode: the score of support i for class k
//
// Modes, each per class k separately:
//   Mean:       w_ik = 1/N. Bit-identical to context_ensemble (mean_embeddings, same order).
//   Weighted:   w_ik = s_ik / sum_j s_jk with s = EnsembleOptions::support_weights (one per
//               support, the same for every class) or, when those are empty, the foreground size
//               sum(mask_ik) of each support's mask. A class whose sizes are all 0 falls back to 1/N.
//   Confidence: every support alone predicts the query; its score for class k is the mean over
//               voxels of max(sigmoid(x), 1 - sigmoid(x)) = sigmoid(|x|) of its logits x: 1 for a
//               prediction certain everywhere, 0.5 for one undecided everywhere. The `keep`
//               highest-scoring supports (ties: lower index first) get w = 1/keep, the rest 0.
// The fused embedding is sum_i w_ik E_ik (computed in double, stored as float32).
#include <cstdint>
#include <string>
#include <vector>

#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

enum class EnsembleMode { Mean, Weighted, Confidence };

struct EnsembleOptions {
  EnsembleMode mode = EnsembleMode::Mean;
  std::vector<double> support_weights;  // Weighted: one per support, >= 0, not all 0; empty = mask sizes
  std::int64_t keep = 1;                // Confidence: supports kept per class, clamped to N
};

using SupportByClass = std::vector<std::vector<double>>;  // [support i][class k]

struct EnsembleResult {
  Tensor support_embeddings;  // (N,K,M,C), each support encoded on its own
  Tensor embeddings;          // (1,K,M,C) fused
  Tensor logits;              // (1,K,D,H,W)
  SupportByClass weights;     // normalized over supports for each class
  SupportByClass scores;      // confidence scores; empty for the other modes
};

EnsembleResult run_ensemble(const IrisModel& model, const Tensor& support_images, const Tensor& support_masks,
                            const Tensor& query, const EnsembleOptions& options = {});

// The pieces, usable on embeddings computed elsewhere.
// sum over i of weights[i][k] * embeddings[i,k] for (N,K,M,C) -> (1,K,M,C).
Tensor weighted_embeddings(const Tensor& embeddings, const SupportByClass& weights);
// Foreground voxel counts of masks (N,K,...) normalized per class (uniform for an empty class).
SupportByClass mask_size_weights(const Tensor& masks);
// One user weight per support, normalized, repeated for K classes. UsageError for a negative,
// non-finite or all-zero set.
SupportByClass normalized_support_weights(const std::vector<double>& weights, std::int64_t classes);
// mean of sigmoid(|x|) per class of (1,K,...) logits -> K scores.
std::vector<double> confidence_scores(const Tensor& logits);
// 1/keep for the `keep` best supports of each class, 0 for the rest.
SupportByClass keep_best(const SupportByClass& scores, std::int64_t keep);

// The soft confidence-weighted ensemble (the guide's confidence-weighted fusion): the
// predictions, not the embeddings, are fused. Every support i alone predicts the query (logits
// x_i, p_i = sigmoid(x_i)); per class k
//   c_ik = mean over voxels of |p_ikv - 0.5|        (0: undecided everywhere, 0.5: certain)
//   w_ik = c_ik / sum_j c_jk                          (1/N when every c_jk is 0)
//   p_kv = sum_i w_ik p_ikv
// in double, stored as float32.
struct SoftEnsembleResult {
  std::vector<float> probabilities;  // (1,K,D,H,W) flattened, the logits' layout
  SupportByClass confidences;        // c_ik
  SupportByClass weights;            // w_ik
};
// `logits`: one (1,K,...) tensor per support, all of one shape.
SoftEnsembleResult fuse_soft(const std::vector<Tensor>& logits);
// Predicts the query with each row of `support_embeddings` (N,K,M,C), then fuse_soft.
SoftEnsembleResult soft_ensemble(const IrisModel& model, const Tensor& support_embeddings, const Tensor& query);

const char* ensemble_mode_name(EnsembleMode mode);          // "mean", "weighted", "confidence"
EnsembleMode parse_ensemble_mode(const std::string& name);  // UsageError for anything else

}  // namespace medport::pipelines::fewshot
