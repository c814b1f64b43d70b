#pragma once
// Pieces shared by the IRIS files: configuration parsing and the graph building blocks.
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/graph/builder.hpp"
#include "medport/models/iris/iris.hpp"

namespace medport::models::iris {

// `strict`: a user's file, where an unknown key is an error; a training dict's own `config` also
// holds training settings and is read leniently.
IrisChoices choices_from_json(const nlohmann::json& j, const std::string& source, bool strict = false);
// Fields unset in `primary` are taken from `fallback`.
IrisChoices merge_choices(const IrisChoices& primary, const IrisChoices& fallback);
// tune_step.onnx: query_image, task_embeddings, target_masks -> logits, loss, grad_task_embeddings.
inline constexpr const char* kTargetMasks = "target_masks";
inline constexpr const char* kLoss = "loss";
inline constexpr const char* kGradTaskEmbeddings = "grad_task_embeddings";
// The forward graph plus the upstream tuner's Dice + BCE loss against target_masks, and the
// loss's gradient with respect to task_embeddings (always float32).
// `forward`: the float32 graph of build_forward_graph, extended with the loss and its gradient.
graph::Graph build_tune_step_graph(graph::Graph forward, const IrisConfig& config);

// Every tensor the graphs read, with its expected shape.
std::vector<std::pair<std::string, Shape>> expected_parameters(const IrisConfig& config);

// Graph blocks. Weights are looked up in the state dict by their checkpoint names.
class GraphParts {
 public:
  GraphParts(graph::Builder& b, const IrisConfig& config, const StateDict& sd) : b_(b), c_(config), sd_(sd) {}

  graph::Value weight(const std::string& name);
  // ResidualBlock: conv3x3(stride) -> IN -> LeakyReLU -> conv3x3 -> IN, + proj(x), LeakyReLU.
  graph::Value residual_block(const std::string& prefix, const graph::Value& x, std::int64_t stride, bool has_proj);
  struct EncoderOut {
    graph::Value features;             // (B, C, d, h, w)
    std::vector<graph::Value> skips;   // shallow to deep, 4 of them
  };
  EncoderOut encoder(const graph::Value& image);
  // nn.MultiheadAttention(batch_first=True) over (N, L, C) sequences; returns (N, Lq, C).
  graph::Value attention(const std::string& prefix, const graph::Value& query, const graph::Value& key_value);

  graph::Builder& builder() { return b_; }
  const IrisConfig& config() const { return c_; }

 private:
  graph::Value projection(const std::string& prefix, const graph::Value& x, int part);
  graph::Builder& b_;
  const IrisConfig& c_;
  const StateDict& sd_;
};

}  // namespace medport::models::iris
