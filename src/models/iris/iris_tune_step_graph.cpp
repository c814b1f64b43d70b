// tune_step: the forward graph, the in-context tuning loss of the upstream tuner
// (DiceCrossEntropyLoss: soft Dice on sigmoid(logits) + BCE with logits, both averaged) and its
// gradient with respect to the task embeddings, emitted by graph::differentiate.
//   loss = mean_{b,k} [1 - (2 sum(p t) + s) / (sum p + sum t + s)] + mean_{b,k,voxels} bce(x, t)
//   p = sigmoid(x), s = 1e-6, bce(x, t) = max(x, 0) - x t + log(1 + exp(-|x|))
#include "medport/graph/autodiff.hpp"
#include "medport/models/iris/iris.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {

using graph::Value;

namespace {

constexpr double kDiceSmooth = 1e-6;  // DiceCrossEntropyLoss(smooth=1e-6) upstream

Value soft_dice_loss(graph::Builder& b, const Value& logits, const Value& target) {
  auto s = b.scope("loss.dice");
  const Value probs = b.sigmoid(logits, "probs");
  const std::vector<std::int64_t> spatial{2, 3, 4};
  const Value intersection = b.reduce_sum(b.mul(probs, target, "overlap"), spatial, false, "intersection");
  const Value denom = b.add(b.reduce_sum(probs, spatial, false, "prob_sum"),
                            b.reduce_sum(target, spatial, false, "target_sum"), "denom");
  const Value ratio = b.div(b.add(b.mul(intersection, 2.0, "twice"), kDiceSmooth, "numerator"),
                            b.add(denom, kDiceSmooth, "smoothed_denom"), "ratio");
  const Value per_class = b.sub(b.scalar_like(ratio, 1.0, "one"), ratio, "per_class");  // (B, K)
  return b.reduce_mean(per_class, {0, 1}, false, "mean");
}

// The numerically stable form torch uses: no exp of a large positive number.
Value bce_with_logits(graph::Builder& b, const Value& logits, const Value& target) {
  auto s = b.scope("loss.bce");
  const Value positive_part = b.relu(logits, "positive_part");
  const Value softplus_tail =
      b.log(b.add(b.exp(b.neg(b.abs(logits, "abs"), "neg_abs"), "exp"), 1.0, "one_plus"), "log1p_exp");
  const Value linear = b.sub(positive_part, b.mul(logits, target, "x_t"), "linear");
  const Value per_voxel = b.add(linear, softplus_tail, "per_voxel");
  return b.reduce_mean(per_voxel, {0, 1, 2, 3, 4}, false, "mean");
}

}  // namespace

graph::Graph build_tune_step_graph(graph::Graph forward, const IrisConfig& c) {
  const std::int64_t D = c.volume_shape[0], H = c.volume_shape[1], W = c.volume_shape[2];
  graph::Graph with_loss;
  {
    graph::Builder b(std::move(forward));
    const Value target = b.input(kTargetMasks, DType::F32, {"B", "K", D, H, W});
    const Value logits = b.value(kLogits);
    const Value loss = b.add(soft_dice_loss(b, logits, target), bce_with_logits(b, logits, target), "loss.total");
    b.output(loss, kLoss, graph::Dims{});
    b.set_metadata("medport.graph", "tune_step");
    with_loss = std::move(b).finish();
  }
  // The default gradient prefix gives kGradTaskEmbeddings ("grad_task_embeddings").
  graph::Graph g = graph::differentiate(with_loss, kLoss, {kTaskEmbeddings});
  g.name = "iris_tune_step";
  return g;
}

}  // namespace medport::models::iris
