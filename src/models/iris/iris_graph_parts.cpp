#include <cmath>

#include "medport/error.hpp"
#include "medport/graph/blocks.hpp"
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
  namespace blk = graph::blocks;
  auto s = b_.scope(prefix);
  const blk::Activation leaky{blk::ActKind::LeakyReLU, 0.01f};
  // conv{n} (3x3x3, no bias) -> norm{n} (InstanceNorm3d, affine) -> activation
  auto unit = [&](const Value& in, const std::string& n, std::int64_t unit_stride, const blk::Activation& act) {
    blk::ConvNormAct u;
    u.weight = weight(prefix + ".conv" + n + ".weight");
    u.conv.pads = graph::symmetric_pads({1, 1, 1});
    u.conv.strides = {unit_stride, unit_stride, unit_stride};
    u.norm.kind = blk::NormKind::Instance;
    u.norm.scale = weight(prefix + ".norm" + n + ".weight");
    u.norm.bias = weight(prefix + ".norm" + n + ".bias");
    u.activation = act;
    auto scope = b_.scope("unit" + n);
    return blk::conv_norm_act(b_, in, u);
  };
  const Value y = unit(unit(x, "1", stride, leaky), "2", 1, {});
  Value identity = x;
  if (has_proj) {
    graph::ConvOptions proj;
    proj.strides = {stride, stride, stride};
    identity = b_.conv(x, weight(prefix + ".proj.weight"), std::nullopt, proj, "proj");
  }
  return blk::residual(b_, y, identity, leaky);
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
  const Value q = projection(prefix, query, 0);
  const Value k = projection(prefix, key_value, 1);
  const Value v = projection(prefix, key_value, 2);
  const Value merged = graph::blocks::multi_head_attention(b_, q, k, v, C, c_.attention_heads);
  return b_.linear(merged, weight(prefix + ".out_proj.weight"), weight(prefix + ".out_proj.bias"), "out_proj");
}

}  // namespace medport::models::iris
