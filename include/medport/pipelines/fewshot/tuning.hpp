#pragma once
// IRIS in-context tuning: only the task embeddings are optimised (the network is frozen), with
// Adam on the upstream tuner's loss, mean soft Dice (sigmoid, smoothing 1e-6) + mean BCE with
// logits against the query's masks. Every step runs OUTDIR/tune_step.onnx, which returns the
// loss, its gradient with respect to the embeddings and the logits (see docs/IRIS.md).
//
//   TuningResult r = tune_embeddings(model, query, model.encode_support(img, masks), query_masks);
//   // r.embeddings: tuned (N,K,m+1,C); r.logits: segment(query, r.embeddings)
#include <optional>
#include <vector>

#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

struct TuningOptions {
  int steps = 20;
  double learning_rate = 1e-3;  // torch.optim.Adam defaults below
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double threshold = 0.5;  // pseudo-labels: sigmoid(initial logits) > threshold
};

struct TuningResult {
  Tensor embeddings;           // tuned, the initial embeddings' shape
  std::vector<double> losses;  // the loss before each update, then the final loss: steps + 1 values
  Tensor logits;               // (N,K,D,H,W) with the tuned embeddings
};

// Adam exactly as torch.optim.Adam (float32 state, bias correction, epsilon added after the
// square root), the loss recomputed at every step. Without target_masks the initial prediction
// thresholded at options.threshold is the target (self-training on the query).
// Throws UsageError for invalid options, InputError for tensors of the wrong shapes and when the
// model folder has no tune_step.onnx.
TuningResult tune_embeddings(const IrisModel& model, const Tensor& query, const Tensor& initial_embeddings,
                             const std::optional<Tensor>& target_masks, const TuningOptions& options = {});

// sigmoid(logits) > threshold as 0/1 float32, the logits' shape.
Tensor pseudo_labels(const Tensor& logits, double threshold);

}  // namespace medport::pipelines::fewshot
