#pragma once
// Building blocks shared by the timm networks: weights read by their checkpoint names, feature
// maps tracked with their static size (the graphs take one fixed H x W, so TensorFlow "same"
// padding is decided at build time).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/graph/builder.hpp"

namespace medport::models::timm {

// A (batch, channels, height, width) value with its static sizes.
struct Feature {
  graph::Value value;
  std::int64_t channels = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
};

enum class Act { None, ReLU, ReLU6, SiLU, GELU, HardSwish, HardSigmoid, Sigmoid };
std::string act_name(Act act);

enum class Padding { Symmetric, TfSame };  // timm's default symmetric padding | TensorFlow "same"

struct ConvSpec {
  std::int64_t stride = 1;
  Padding padding = Padding::Symmetric;
  std::optional<std::int64_t> pad;  // explicit symmetric padding; default: timm's get_padding
};

// The network under construction: the builder, the weights, and report lines.
struct Net {
  graph::Builder& b;
  const ckpt::WeightSource& w;
  std::vector<std::string>& details;

  // A weight by checkpoint name as a graph initializer of the same name.
  graph::Value param(const std::string& name) const;
  graph::Value param(const std::string& name, const Shape& shape) const;
  std::optional<graph::Value> optional_param(const std::string& name) const;
  // Shape of a tensor in the checkpoint (InputError naming it when absent).
  const Shape& shape_of(const std::string& name) const;
  bool has(const std::string& name) const { return w.contains(name); }

  // Conv2d `<prefix>.weight` (+ `.bias` when present); groups = in channels / weight in channels.
  Feature conv(const Feature& x, const std::string& prefix, const ConvSpec& spec = {}) const;
  // Conv2d `<conv>` followed by inference BatchNorm2d `<bn>` ({weight,bias,running_mean,running_var};
  // num_batches_tracked accounted). The BatchNormalization stays float32 under --fp16: a float16
  // running mean loses the digits that x - mean cancels, and folding it into the conv would round
  // the conv weights again (fp16 checkpoints keep theirs exact this way).
  Feature conv_bn(const Feature& x, const std::string& conv, const std::string& bn, float eps,
                  const ConvSpec& spec = {}) const;
  graph::Value act(const graph::Value& x, Act act) const;
  Feature act(const Feature& x, Act a) const { return {act(x.value, a), x.channels, x.height, x.width}; }
  // nn.Linear `<prefix>.weight` [out, in] (+ bias) on the last axis.
  graph::Value linear(const graph::Value& x, const std::string& prefix) const;
  // The number of output features of nn.Linear `<prefix>`.
  std::int64_t linear_out(const std::string& prefix) const { return shape_of(prefix + ".weight").at(0); }
  // Squeeze-and-excitation: mean over H, W -> conv `<reduce>` -> act -> conv `<expand>` -> gate -> x * gate.
  Feature squeeze_excite(const Feature& x, const std::string& reduce, const std::string& expand, Act act, Act gate) const;
  // Mean over H and W -> (batch, channels).
  graph::Value global_avg_pool_flat(const Feature& x) const;
};

// Indices N for which `<prefix>.N.<anything>` exists, ascending (e.g. the blocks of a stage).
std::vector<int> child_indices(const ckpt::WeightSource& w, const std::string& prefix);

}  // namespace medport::models::timm
