#pragma once
// Network blocks written once for every family that needs them: a normalization, an activation,
// convolution-normalization-activation units, residual sums and multi-head attention.
// Weights are Values the caller made (initializers from its own key table), so the blocks know
// nothing about checkpoint names.
#include <cstdint>
#include <optional>
#include <string_view>

#include "medport/graph/builder.hpp"

namespace medport::graph::blocks {

enum class NormKind { None, Instance, Batch, Group };

struct Norm {
  NormKind kind = NormKind::None;
  std::optional<Value> scale, bias;       // per channel; Instance/Batch need both
  std::optional<Value> mean, variance;    // Batch: running statistics
  float epsilon = 1e-5f;
  std::int64_t groups = 32;               // Group
};

enum class ActKind { None, ReLU, LeakyReLU, SiLU, GELU };

struct Activation {
  ActKind kind = ActKind::None;
  float negative_slope = 0.01f;  // LeakyReLU
};

Value normalize(Builder& b, const Value& x, const Norm& norm, std::string_view hint = "norm");
Value activate(Builder& b, const Value& x, const Activation& act, std::string_view hint = "act");

// conv -> norm -> activation (or conv -> activation -> norm with `activation_first`, nnU-Net's
// nonlin_first), the unit of nnU-Net, IRIS and CNN classifiers.
struct ConvNormAct {
  Value weight;
  std::optional<Value> bias;
  ConvOptions conv;
  Norm norm;
  Activation activation;
  bool activation_first = false;
};
Value conv_norm_act(Builder& b, const Value& x, const ConvNormAct& unit);

// Symmetric "same" padding for odd kernels: (k - 1) / 2 on every side.
std::vector<std::int64_t> same_pads(const std::vector<std::int64_t>& kernel);

// activation(branch + skip): the end of a residual block.
Value residual(Builder& b, const Value& branch, const Value& skip, const Activation& after = {});

// softmax(q k) v for heads already split: q (N, h, L, d) pre-scaled, k_t (N, h, d, S), v (N, h, S, d)
// -> (N, h, L, d).
Value attend(Builder& b, const Value& q, const Value& k_t, const Value& v);

// torch.nn.MultiheadAttention's core on projected (N, L, C) queries and (N, S, C) keys/values:
// split into `heads`, scale queries by 1/sqrt(C/heads), attend, merge -> (N, L, C) (before the
// output projection).
Value multi_head_attention(Builder& b, const Value& q, const Value& k, const Value& v, std::int64_t embed_dim,
                           std::int64_t heads);

}  // namespace medport::graph::blocks
