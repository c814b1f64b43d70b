#include <cmath>

#include "medport/error.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {

using graph::Value;

Value GraphParts::weight(const std::string& name) {
  const Tensor& t = sd_.at(name);
  // Reuse an initializer already declared under this name (shared by both attention inputs).
  if (b_.graph().find_initializer(name)) return b_.value(name);
  return b_.initializer(name, t.dtype() == DType::F32 ? t : t.to(DType::F32));
}

Value GraphParts::residual_block(const std::string& prefix, const Value& x, std::int64_t stride, bool has_proj) {
  auto s = b_.scope(prefix);
  graph::ConvOptions conv3;
  conv3.pads = graph::symmetric_pads({1, 1, 1});
  conv3.strides = {stride, stride, stride};
  Value y = b_.conv(x, weight(prefix + ".conv1.weight"), std::nullopt, conv3, "conv1");
  y = b_.instance_norm(y, weight(prefix + ".norm1.weight"), weight(prefix + ".norm1.bias"), 1e-5f, "norm1");
  y = b_.leaky_relu(y, 0.01f, "act1");
  conv3.strides = {1, 1, 1};
  y = b_.conv(y, weight(prefix + ".conv2.weight"), std::nullopt, conv3, "conv2");
  y = b_.instance_norm(y, weight(prefix + ".norm2.weight"), weight(prefix + ".norm2.bias"), 1e-5f, "norm2");
  Value identity = x;
  if (has_proj) {
    graph::ConvOptions proj;
    proj.strides = {stride, stride, stride};
    identity = b_.conv(x, weight(prefix + ".proj.weight"), std::nullopt, proj, "proj");
  }
  return b_.leaky_relu(b_.add(y, identity, "residual"), 0.01f, "act2");
}

GraphParts::EncoderOut GraphParts::encoder(const Value& image) {
  EncoderOut out;
  Value x = residual_block("encoder.stem", image, 1, c_.in_channels != c_.channels(0));
  for (int i = 0; i < 4; ++i) {
    out.skips.push_back(x);
    x = residual_block("encoder.down_blocks." + std::to_string(i), x, 2, true);
  }
  out.features = x;
  return out;
}

// Rows [part*C, (part+1)*C) of the packed q/k/v input projection, as strided views of the
// checkpoint tensors (no copy).
Value GraphParts::projection(const std::string& prefix, const Value& x, int part) {
  static const char* kPart[] = {"q", "k", "v"};
  const std::int64_t C = c_.embed_dim();
  auto view = [&](const std::string& key, Shape shape) {
    const std::string name = key + "." + kPart[part];
    if (b_.graph().find_initializer(name)) return b_.value(name);
    Tensor t = sd_.at(key);
    if (t.dtype() != DType::F32) t = t.to(DType::F32);
    const Shape strides = t.strides();
    const Tensor rows(t.storage(), t.offset() + part * C * t.strides()[0], std::move(shape), strides);
    return b_.initializer(name, rows);
  };
  const Value w = view(prefix + ".in_proj_weight", {C, C});
  const Value bias = view(prefix + ".in_proj_bias", {C});
  return b_.linear(x, w, bias, std::string("proj_") + kPart[part]);
}

Value GraphParts::attention(const std::string& prefix, const Value& query, const Value& key_value) {
  auto s = b_.scope(prefix);
  const std::int64_t C = c_.embed_dim();
  const std::int64_t heads = c_.attention_heads;
  const std::int64_t head_dim = C / heads;
  const Value q = projection(prefix, query, 0);
  const Value k = projection(prefix, key_value, 1);
  const Value v = projection(prefix, key_value, 2);
  // (N, L, C) -> (N, heads, L, head_dim); keys transposed to (N, heads, head_dim, L).
  const Value qh = b_.transpose(b_.reshape(q, {0, 0, heads, head_dim}, "q_heads"), {0, 2, 1, 3}, "q_t");
  const Value kh = b_.transpose(b_.reshape(k, {0, 0, heads, head_dim}, "k_heads"), {0, 2, 3, 1}, "k_t");
  const Value vh = b_.transpose(b_.reshape(v, {0, 0, heads, head_dim}, "v_heads"), {0, 2, 1, 3}, "v_t");
  const Value scaled = b_.mul(qh, 1.0 / std::sqrt(static_cast<double>(head_dim)), "q_scaled");
  const Value weights = b_.softmax(b_.matmul(scaled, kh, "scores"), -1, "attn");
  const Value heads_out = b_.transpose(b_.matmul(weights, vh, "context"), {0, 2, 1, 3}, "context_t");
  const Value merged = b_.reshape(heads_out, {0, 0, C}, "merge_heads");
  return b_.linear(merged, weight(prefix + ".out_proj.weight"), weight(prefix + ".out_proj.bias"), "out_proj");
}

}  // namespace medport::models::iris
