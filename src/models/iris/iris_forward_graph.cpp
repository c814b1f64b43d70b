// forward: query encoder -> bidirectional attention with the task tokens -> FiLM-modulated
// UNet decoder, one decode per (batch item, class) -> logits (B, K, D, H, W).
#include "medport/models/iris/iris.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {

using graph::Value;

graph::Graph build_forward_graph(const IrisConfig& c, const StateDict& sd, int opset) {
  graph::Builder b("iris_forward", opset);
  GraphParts parts(b, c, sd);
  const std::int64_t D = c.volume_shape[0], H = c.volume_shape[1], W = c.volume_shape[2];
  const std::int64_t C = c.embed_dim(), M = c.num_query_tokens + 1;
  const Value image = b.input(kQueryImage, DType::F32, {"B", c.in_channels, D, H, W});
  const Value embeddings = b.input(kTaskEmbeddings, DType::F32, {"B", "K", M, C});
  const auto enc = parts.encoder(image);
  const Value batch_classes = b.shape(embeddings, 0, 2, "batch_classes");  // [B, K]

  // (B, ch, x, y, z) -> (B*K, ch, x, y, z): every class decodes its own copy.
  auto per_class = [&](const Value& x, std::int64_t channels, const std::string& hint) {
    auto s = b.scope(hint);
    const Value spatial = b.shape(x, 2, std::nullopt, "spatial");
    const Value target = b.concat({batch_classes, b.const_i64({channels}, "channels"), spatial}, 0, "target");
    const Value expanded = b.expand(b.unsqueeze(x, {1}, "class_axis"), target, "expand");
    const Value flat = b.concat({b.const_i64({-1, channels}, "bk_channels"), spatial}, 0, "flat_shape");
    return b.reshape(expanded, flat, "merge");
  };

  Value features, summary;
  {
    auto s = b.scope("mask_decoder.cross_attention");
    const Value f = per_class(enc.features, C, "per_class_features");
    const Value f_seq = b.transpose(b.reshape(f, {0, C, -1}, "flatten"), {0, 2, 1}, "to_seq");
    const Value tokens = b.reshape(embeddings, {-1, M, C}, "tokens");
    const Value t1 = parts.attention("mask_decoder.cross_attention.features_to_tokens", tokens, f_seq);
    const Value f1 = parts.attention("mask_decoder.cross_attention.tokens_to_features", f_seq, t1);
    const Value t2 = parts.attention("mask_decoder.cross_attention.token_self_attn", t1, t1);
    const Value f_shape = b.concat({b.const_i64({0, C}, "bk_c"), b.shape(enc.features, 2, std::nullopt, "dhw")}, 0,
                                   "feature_shape");
    features = b.reshape(b.transpose(f1, {0, 2, 1}, "to_channels"), f_shape, "features");
    summary = b.reduce_mean(t2, {1}, false, "summary");  // (B*K, C)
  }

  for (int i = 0; i < 4; ++i) {
    const std::string p = "mask_decoder.decoder_stages." + std::to_string(i);
    const std::int64_t ch = c.channels(3 - i);
    const Value skip = per_class(enc.skips[static_cast<std::size_t>(3 - i)], ch, p + ".skip");
    Value x;
    {
      auto s = b.scope(p);
      graph::ConvTransposeOptions up;
      up.strides = {2, 2, 2};
      x = b.conv_transpose(features, parts.weight(p + ".up.weight"), parts.weight(p + ".up.bias"), up, "up");
      x = b.concat({x, skip}, 1, "with_skip");
    }
    x = parts.residual_block(p + ".fuse", x, 1, true);
    const std::string f = "mask_decoder.modulators." + std::to_string(i);
    auto s = b.scope(f);
    const Value film = b.linear(summary, parts.weight(f + ".linear.weight"), parts.weight(f + ".linear.bias"), "linear");
    const auto gamma_beta = b.split(film, -1, {ch, ch}, "chunk");
    const Value gamma = b.unsqueeze(gamma_beta[0], {2, 3, 4}, "gamma");
    const Value beta = b.unsqueeze(gamma_beta[1], {2, 3, 4}, "beta");
    features = b.add(b.mul(x, b.add(gamma, 1.0, "one_plus_gamma"), "scale"), beta, "shift");
  }
  Value logits = b.conv(features, parts.weight("mask_decoder.final_conv.weight"),
                        parts.weight("mask_decoder.final_conv.bias"), {}, "mask_decoder.final_conv");
  // The decoder already ends at volume_shape (inputs are fixed to it), so the upstream final
  // trilinear resize to volume_shape is the identity and is left out.
  const Value out_shape = b.concat({batch_classes, b.const_i64({D, H, W}, "volume")}, 0, "logits_shape");
  b.output(b.reshape(logits, out_shape, "logits_reshape"), kLogits, graph::Dims{"B", "K", D, H, W});
  b.set_metadata("medport.family", "iris");
  b.set_metadata("medport.graph", "forward");
  return std::move(b).finish();
}

}  // namespace medport::models::iris
