// timm VisionTransformer and DeiT (timm/models/vision_transformer.py, deit.py): patch embedding,
// class (+ distillation, register) tokens with learned position embeddings, pre-norm blocks of
// multi-head self-attention and GELU MLP with optional layer scale, final norm, class-token or
// average pooling, and a linear head (DeiT distilled: the mean of the two heads, as at eval).
#include <cmath>
#include <limits>
#include <string>

#include "medport/error.hpp"
#include "medport/graph/blocks.hpp"
#include "models/timm/networks.hpp"

namespace medport::models::timm {
namespace {

constexpr float kLnEps = 1e-6f;  // partial(nn.LayerNorm, eps=1e-6)

std::int64_t heads_for(const Arch& arch, std::int64_t dim, const std::string& source) {
  struct SizeHeads {
    const char* size;
    std::int64_t heads;
  };
  static constexpr SizeHeads kHeads[] = {{"_tiny_", 3}, {"_small_", 6}, {"_medium_", 8},
                                         {"_base_", 12}, {"_large_", 16}, {"_huge_", 16}};
  for (const auto& s : kHeads)
    if (arch.name.find(s.size) != std::string::npos) {
      if (dim % s.heads != 0)
        throw InputError(source, "embedding width " + std::to_string(dim) + " does not split into the " +
                                     std::to_string(s.heads) + " attention heads of " + arch.name);
      return s.heads;
    }
  throw InputError(source, "cannot tell the attention heads of " + arch.name);
}

struct Tokens {
  std::int64_t prefix = 0;  // class + distillation + register tokens
  bool distilled = false;
};

graph::Value layer_norm(const Net& net, const graph::Value& x, const std::string& prefix, std::int64_t dim) {
  auto scale = net.param(prefix + ".weight", {dim});
  auto bias = net.param(prefix + ".bias", {dim});
  const auto scope = net.b.scope(prefix);
  return net.b.layer_norm(x, scale, bias, -1, kLnEps, "ln");
}

graph::Value attention(const Net& net, const graph::Value& x, const std::string& p, std::int64_t dim,
                       std::int64_t heads) {
  const std::int64_t head_dim = dim / heads;
  graph::Value qkv = net.linear(x, p + ".qkv");
  const auto scope = net.b.scope(p);
  graph::Builder& b = net.b;
  qkv = b.reshape(qkv, {0, -1, 3, heads, head_dim}, "split_heads");
  qkv = b.transpose(qkv, {2, 0, 3, 1, 4}, "qkv_first");  // (3, batch, heads, tokens, head_dim)
  const graph::Value q = b.mul(b.gather(qkv, 0, 0, "q"), 1.0 / std::sqrt(static_cast<double>(head_dim)), "scale");
  const graph::Value k = b.gather(qkv, 1, 0, "k");
  const graph::Value v = b.gather(qkv, 2, 0, "v");
  graph::Value y = graph::blocks::attend(b, q, b.transpose(k, {0, 1, 3, 2}, "k_t"), v);
  y = b.reshape(b.transpose(y, {0, 2, 1, 3}, "merge"), {0, -1, dim}, "merge_heads");
  return net.linear(y, p + ".proj");
}

graph::Value mlp(const Net& net, const graph::Value& x, const std::string& p) {
  return net.linear(net.b.gelu(net.linear(x, p + ".fc1"), p + ".act"), p + ".fc2");
}

graph::Value layer_scale(const Net& net, const graph::Value& x, const std::string& name, std::int64_t dim) {
  if (!net.has(name)) return x;
  return net.b.mul(x, net.param(name, {dim}), name);
}

// [1, n, dim] token parameter expanded to the batch of `like` ([batch, ..., dim]).
graph::Value batch_tokens(const Net& net, const std::string& name, const graph::Value& like, std::int64_t dim) {
  const Shape& s = net.shape_of(name);
  const graph::Value token = net.param(name, {1, s.at(1), dim});
  graph::Builder& b = net.b;
  const graph::Value shape = b.concat({b.shape(like, 0, 1, name + ".batch"), b.const_i64({s[1], dim}, name + ".dims")}, 0,
                                      name + ".shape");
  return b.expand(token, shape, name + ".expand");
}

}  // namespace

std::pair<std::int64_t, std::int64_t> vit_input_size(const ckpt::WeightSource& w) {
  const ckpt::WeightInfo* proj = w.info("patch_embed.proj.weight");
  const ckpt::WeightInfo* pos = w.info("pos_embed");
  if (!proj || !pos || proj->shape.size() != 4 || pos->shape.size() != 3)
    throw InputError(w.path().string(), "a ViT needs patch_embed.proj.weight and pos_embed");
  std::int64_t prefix = 0;
  for (const char* t : {"cls_token", "dist_token", "reg_token"})
    if (const auto* info = w.info(t); info && info->shape.size() == 3) prefix += info->shape[1];
  for (std::int64_t n : {pos->shape[1] - prefix, pos->shape[1]}) {
    const auto grid = static_cast<std::int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
    if (n > 0 && grid * grid == n) return {grid * proj->shape[2], grid * proj->shape[3]};
  }
  throw InputError(w.path().string(), "pos_embed " + shape_string(pos->shape) + " is not a square grid of patches");
}

graph::Value build_vit(const Net& net, const Feature& input, const Arch& arch) {
  const std::string source = net.w.path().string();
  const Shape& proj = net.shape_of("patch_embed.proj.weight");
  ConvSpec patch;
  patch.stride = proj.at(2);
  patch.pad = 0;
  const Feature grid = net.conv(input, "patch_embed.proj", patch);
  const std::int64_t dim = grid.channels, patches = grid.height * grid.width;
  const std::int64_t heads = heads_for(arch, dim, source);
  graph::Builder& b = net.b;
  graph::Value x = b.transpose(b.reshape(grid.value, {0, dim, -1}, "patch_flatten"), {0, 2, 1}, "patch_tokens");

  Tokens tokens;
  std::vector<graph::Value> prefix_tokens;
  for (const char* name : {"cls_token", "dist_token", "reg_token"}) {
    if (!net.has(name)) continue;
    prefix_tokens.push_back(batch_tokens(net, name, x, dim));
    tokens.prefix += net.shape_of(name).at(1);
    tokens.distilled = tokens.distilled || std::string(name) == "dist_token";
  }
  const Shape& pos = net.shape_of("pos_embed");
  const graph::Value pos_embed = net.param("pos_embed");
  auto with_prefix = [&](const graph::Value& v) {
    if (prefix_tokens.empty()) return v;
    std::vector<graph::Value> parts = prefix_tokens;
    parts.push_back(v);
    return b.concat(parts, 1, "prefix_tokens");
  };
  if (pos.size() == 3 && pos[1] == patches + tokens.prefix) {
    x = b.add(with_prefix(x), pos_embed, "pos_embed_add");
  } else if (pos.size() == 3 && pos[1] == patches) {  // no_embed_class (DeiT III)
    x = with_prefix(b.add(x, pos_embed, "pos_embed_add"));
  } else {
    throw InputError(source, "pos_embed " + shape_string(pos) + " fits neither " + std::to_string(patches) +
                                 " patches nor them with " + std::to_string(tokens.prefix) + " prefix tokens");
  }
  if (net.has("norm_pre.weight")) x = layer_norm(net, x, "norm_pre", dim);

  const auto blocks = child_indices(net.w, "blocks");
  for (int i : blocks) {
    const std::string p = "blocks." + std::to_string(i);
    graph::Value a = attention(net, layer_norm(net, x, p + ".norm1", dim), p + ".attn", dim, heads);
    x = b.add(x, layer_scale(net, a, p + ".ls1.gamma", dim), p + ".residual1");
    graph::Value m = mlp(net, layer_norm(net, x, p + ".norm2", dim), p + ".mlp");
    x = b.add(x, layer_scale(net, m, p + ".ls2.gamma", dim), p + ".residual2");
  }
  if (net.has("norm.weight")) x = layer_norm(net, x, "norm", dim);
  net.details.push_back("patch " + std::to_string(proj[2]) + ", width " + std::to_string(dim) + ", depth " +
                        std::to_string(blocks.size()) + ", " + std::to_string(heads) + " heads, " +
                        std::to_string(tokens.prefix) + " prefix token(s)" + (tokens.distilled ? " (distilled)" : ""));

  if (net.has("fc_norm.weight")) {  // global average pooling over the patch tokens
    graph::Value pooled = b.reduce_mean(b.slice(x, {tokens.prefix}, {std::numeric_limits<std::int64_t>::max()}, {1}, {},
                                                "patch_tokens_only"),
                                        {1}, false, "avg_pool");
    return net.linear(layer_norm(net, pooled, "fc_norm", dim), "head");
  }
  const graph::Value cls = b.gather(x, 0, 1, "cls_out");
  const graph::Value logits = net.linear(cls, "head");
  if (!tokens.distilled) return logits;
  const graph::Value dist = net.linear(b.gather(x, 1, 1, "dist_out"), "head_dist");
  return b.mul(b.add(logits, dist, "heads_sum"), 0.5, "heads_mean");
}

}  // namespace medport::models::timm
