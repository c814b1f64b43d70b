// encode_support: encoder -> foreground pooling (T_f) + context tokens (T_c) -> (B, K, m+1, C).
#include "medport/models/iris/iris.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {

using graph::Value;

namespace {
constexpr std::int64_t kR = 16;
}

graph::Graph build_encode_support_graph(const IrisConfig& c, const StateDict& sd, int opset) {
  graph::Builder b("iris_encode_support", opset);
  GraphParts parts(b, c, sd);
  const std::int64_t D = c.volume_shape[0], H = c.volume_shape[1], W = c.volume_shape[2];
  const std::int64_t d = D / kR, h = H / kR, w = W / kR;
  const std::int64_t C = c.embed_dim(), m = c.num_query_tokens, cc = c.context_channels;
  const std::int64_t r3 = kR * kR * kR;
  const Value image = b.input(kSupportImage, DType::F32, {"B", c.in_channels, D, H, W});
  const Value masks = b.input(kSupportMasks, DType::F32, {"B", "K", D, H, W});
  const Value features = parts.encoder(image).features;  // (B, C, d, h, w)
  const Value batch_classes = b.shape(masks, 0, 2, "batch_classes");  // [B, K]

  // T_f: masked average of the trilinearly upsampled features, as (B,K,N) x (B,N,C).
  Value foreground;
  {
    auto s = b.scope("task_encoder.foreground");
    const Value up = b.resize(features, {1.f, 1.f, float(kR), float(kR), float(kR)},
                              graph::ResizeOptions::torch_linear(false), "upsample");
    const Value up_seq = b.transpose(b.reshape(up, {0, C, -1}, "flatten"), {0, 2, 1}, "to_seq");
    const Value mask_flat = b.reshape(masks, {0, 0, -1}, "mask_flat");
    const Value sums = b.matmul(mask_flat, up_seq, "masked_sum");  // (B, K, C)
    const Value area = b.clip(b.reduce_sum(mask_flat, {2}, true, "mask_area"), 1e-6, std::nullopt, "area_min");
    foreground = b.unsqueeze(b.div(sums, area, "mean"), {2}, "as_token");  // (B, K, 1, C)
  }

  // T_c. PixelShuffle -> 1x1 conv with the mask -> PixelUnshuffle equals mixing, per low-res
  // position and sub-position q, the shuffled feature channels with the unshuffled mask, so the
  // full-resolution context map is never built.
  Value context_tokens;
  {
    auto s = b.scope("task_encoder.context");
    const Value expanded = b.conv(features, parts.weight("task_encoder.pre_shuffle.weight"), std::nullopt, {},
                                  "pre_shuffle");  // (B, cc*r3, d, h, w)
    const Value feat_groups = b.reshape(expanded, {0, 1, cc, -1}, "feature_groups");  // (B,1,cc,r3*dhw)
    const Tensor& cw = sd.at("task_encoder.context_conv.weight");
    const auto cwv = cw.to_f32();  // (cc, cc+1)
    const auto cbv = sd.at("task_encoder.context_conv.bias").to_f32();
    std::vector<float> mix(static_cast<std::size_t>(cc * cc)), mask_w(static_cast<std::size_t>(cc));
    for (std::int64_t j = 0; j < cc; ++j) {
      for (std::int64_t i = 0; i < cc; ++i) mix[j * cc + i] = cwv[j * (cc + 1) + i];
      mask_w[j] = cwv[j * (cc + 1) + cc];
    }
    const Value mixed = b.matmul(b.const_f32(mix, {cc, cc}, "feature_weight"), feat_groups, "mix");
    // Masks (B,K,D,H,W) unshuffled to (B, K, 1, r3*dhw): sub-position first, then position.
    const Value m7 = b.reshape(masks, {-1, d, kR, h, kR, w, kR}, "mask_split");
    const Value mt = b.transpose(m7, {0, 2, 4, 6, 1, 3, 5}, "mask_unshuffle");
    const Value mask_shape = b.concat({batch_classes, b.const_i64({1, -1}, "one_all")}, 0, "mask_groups_shape");
    const Value mask_groups = b.reshape(mt, mask_shape, "mask_groups");
    Value ctx = b.add(mixed, b.mul(mask_groups, b.const_f32(mask_w, {cc, 1}, "mask_weight"), "mask_term"), "sum");
    ctx = b.add(ctx, b.const_f32(cbv, {cc, 1}, "bias"), "biased");  // (B, K, cc, r3*dhw)
    const Value unshuffled = b.reshape(ctx, {-1, cc * r3, d, h, w}, "unshuffled");
    const Value post = b.conv(unshuffled, parts.weight("task_encoder.post_unshuffle.weight"), std::nullopt, {},
                              "post_unshuffle");  // (B*K, C, d, h, w)
    const Value seq = b.transpose(b.reshape(post, {0, C, -1}, "flatten"), {0, 2, 1}, "to_seq");
    const Value query_shape = b.concat({b.shape(seq, 0, 1, "bk"), b.const_i64({m, C}, "token_dims")}, 0,
                                       "queries_shape");
    const Value queries = b.expand(parts.weight("task_encoder.query_tokens"), query_shape, "queries");
    const Value crossed = parts.attention("task_encoder.cross_attn", queries, seq);
    const Value refined = parts.attention("task_encoder.self_attn", crossed, crossed);
    const Value out_shape = b.concat({batch_classes, b.const_i64({m, C}, "token_dims_out")}, 0, "tokens_shape");
    context_tokens = b.reshape(refined, out_shape, "tokens");  // (B, K, m, C)
  }
  const Value embeddings = b.concat({foreground, context_tokens}, 2, "task_embeddings_concat");
  b.output(embeddings, kTaskEmbeddings, graph::Dims{"B", "K", m + 1, C});
  b.set_metadata("medport.family", "iris");
  b.set_metadata("medport.graph", "encode_support");
  return std::move(b).finish();
}

}  // namespace medport::models::iris
