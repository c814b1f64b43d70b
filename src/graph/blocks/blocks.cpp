#include "medport/graph/blocks.hpp"

#include <cmath>
#include <stdexcept>

namespace medport::graph::blocks {

Value normalize(Builder& b, const Value& x, const Norm& n, std::string_view hint) {
  switch (n.kind) {
    case NormKind::None: return x;
    case NormKind::Instance: return b.instance_norm(x, n.scale.value(), n.bias.value(), n.epsilon, hint);
    case NormKind::Batch:
      return b.batch_norm(x, n.scale.value(), n.bias.value(), n.mean.value(), n.variance.value(), n.epsilon, hint);
    case NormKind::Group: return b.group_norm(x, n.groups, n.scale, n.bias, n.epsilon, hint);
  }
  throw std::logic_error("unknown normalization");
}

Value activate(Builder& b, const Value& x, const Activation& a, std::string_view hint) {
  switch (a.kind) {
    case ActKind::None: return x;
    case ActKind::ReLU: return b.relu(x, hint);
    case ActKind::LeakyReLU: return b.leaky_relu(x, a.negative_slope, hint);
    case ActKind::SiLU: return b.silu(x, hint);
    case ActKind::GELU: return b.gelu(x, hint);
  }
  throw std::logic_error("unknown activation");
}

Value conv_norm_act(Builder& b, const Value& x, const ConvNormAct& u) {
  const Value y = b.conv(x, u.weight, u.bias, u.conv, "conv");
  if (u.activation_first && u.norm.kind != NormKind::None && u.activation.kind != ActKind::None)
    return normalize(b, activate(b, y, u.activation, "nonlin"), u.norm, "norm");
  return activate(b, normalize(b, y, u.norm, "norm"), u.activation, "nonlin");
}

std::vector<std::int64_t> same_pads(const std::vector<std::int64_t>& kernel) {
  std::vector<std::int64_t> half;
  for (auto k : kernel) half.push_back((k - 1) / 2);
  return symmetric_pads(half);
}

Value residual(Builder& b, const Value& branch, const Value& skip, const Activation& after) {
  return activate(b, b.add(branch, skip, "residual"), after, "nonlin2");
}

Value attend(Builder& b, const Value& q, const Value& k_t, const Value& v) {
  const Value weights = b.softmax(b.matmul(q, k_t, "scores"), -1, "attn");
  return b.matmul(weights, v, "context");
}

Value multi_head_attention(Builder& b, const Value& q, const Value& k, const Value& v, std::int64_t embed_dim,
                           std::int64_t heads) {
  const std::int64_t head_dim = embed_dim / heads;
  // (N, L, C) -> (N, heads, L, head_dim); keys transposed to (N, heads, head_dim, L).
  const Value qh = b.transpose(b.reshape(q, {0, 0, heads, head_dim}, "q_heads"), {0, 2, 1, 3}, "q_t");
  const Value kh = b.transpose(b.reshape(k, {0, 0, heads, head_dim}, "k_heads"), {0, 2, 3, 1}, "k_t");
  const Value vh = b.transpose(b.reshape(v, {0, 0, heads, head_dim}, "v_heads"), {0, 2, 1, 3}, "v_t");
  const Value scaled = b.mul(qh, 1.0 / std::sqrt(static_cast<double>(head_dim)), "q_scaled");
  const Value context = attend(b, scaled, kh, vh);
  return b.reshape(b.transpose(context, {0, 2, 1, 3}, "context_t"), {0, 0, embed_dim}, "merge_heads");
}

}  // namespace medport::graph::blocks
