// timm ConvNeXt (timm/models/convnext.py): a patchify (or overlapping 3x3) stem, four stages of
// blocks dwconv 7x7 -> LayerNorm over channels -> Linear (or 1x1 conv) -> GELU -> Linear -> layer
// scale -> residual, downsampling by LayerNorm + 2x2 stride-2 conv, and a pool -> LayerNorm -> fc head
// (or LayerNorm before the pool: *_hnf).
#include <string>

#include "medport/error.hpp"
#include "models/timm/networks.hpp"

namespace medport::models::timm {
namespace {

constexpr float kLnEps = 1e-6f;  // timm's LayerNorm / LayerNorm2d default

const std::vector<std::int64_t> kToChannelsLast{0, 2, 3, 1};
const std::vector<std::int64_t> kToChannelsFirst{0, 3, 1, 2};

graph::Value layer_norm_last(const Net& net, const graph::Value& x, const std::string& prefix, std::int64_t channels) {
  auto scale = net.param(prefix + ".weight", {channels});
  auto bias = net.param(prefix + ".bias", {channels});
  const auto scope = net.b.scope(prefix);
  return net.b.layer_norm(x, scale, bias, -1, kLnEps, "ln");
}

// LayerNorm2d: LayerNorm over the channels of an NCHW map.
Feature layer_norm_2d(const Net& net, const Feature& x, const std::string& prefix) {
  const auto scope = net.b.scope(prefix);
  const graph::Value nhwc = net.b.transpose(x.value, kToChannelsLast, "to_nhwc");
  const graph::Value y = layer_norm_last(net, nhwc, prefix, x.channels);
  return {net.b.transpose(y, kToChannelsFirst, "to_nchw"), x.channels, x.height, x.width};
}

// nn.Linear or a 1x1 Conv2d (conv_mlp) applied to channels-last values.
graph::Value pointwise(const Net& net, const graph::Value& x, const std::string& prefix) {
  const Shape& s = net.shape_of(prefix + ".weight");
  if (s.size() == 2) return net.linear(x, prefix);
  if (s.size() != 4 || s[2] != 1 || s[3] != 1)
    throw InputError(net.w.path().string(), "tensor '" + net.w.root_prefix() + prefix + ".weight' " + shape_string(s) +
                                                " is neither a Linear nor a 1x1 conv weight");
  auto weight = net.b.initializer(prefix + ".weight", net.w.require(prefix + ".weight").contiguous().reshaped({s[0], s[1]}));
  auto bias = net.optional_param(prefix + ".bias");
  const auto scope = net.b.scope(prefix);
  return net.b.linear(x, weight, bias, "linear");
}

Feature stem(const Net& net, const Feature& x, std::string* kind) {
  const Shape& w0 = net.shape_of("stem.0.weight");
  if (w0.size() != 4) throw InputError(net.w.path().string(), "stem.0.weight is not a convolution");
  if (w0[2] != 3) {  // patchify: kernel = stride = patch size
    ConvSpec patch;
    patch.stride = w0[2];
    patch.pad = 0;
    *kind = "patch " + std::to_string(w0[2]) + "x" + std::to_string(w0[3]);
    return layer_norm_2d(net, net.conv(x, "stem.0", patch), "stem.1");
  }
  ConvSpec s2;
  s2.stride = 2;
  s2.pad = 1;
  Feature y = net.conv(x, "stem.0", s2);
  int next = 1;
  if (!net.has("stem.1.weight")) {  // overlap_act: GELU between the two convs
    y = net.act(y, Act::GELU);
    next = 2;
  }
  y = net.conv(y, "stem." + std::to_string(next), s2);
  *kind = "overlapping 3x3 convs";
  return layer_norm_2d(net, y, "stem." + std::to_string(next + 1));
}

Feature block(const Net& net, const Feature& x, const std::string& p) {
  Feature y = net.conv(x, p + ".conv_dw");
  const auto scope = net.b.scope(p);
  graph::Value t = net.b.transpose(y.value, kToChannelsLast, "to_nhwc");
  t = layer_norm_last(net, t, p + ".norm", y.channels);
  t = pointwise(net, t, p + ".mlp.fc1");
  t = net.b.gelu(t, "mlp_act");
  t = pointwise(net, t, p + ".mlp.fc2");
  if (net.has(p + ".gamma")) t = net.b.mul(t, net.param(p + ".gamma", {y.channels}), "layer_scale");
  t = net.b.transpose(t, kToChannelsFirst, "to_nchw");
  if (x.channels != y.channels || x.height != y.height)
    throw InputError(net.w.path().string(), "block '" + net.w.root_prefix() + p + "' changes the feature shape");
  return {net.b.add(t, x.value, "residual"), y.channels, y.height, y.width};
}

}  // namespace

graph::Value build_convnext(const Net& net, const Feature& input, const Arch& arch) {
  (void)arch;  // the weights tell every ConvNeXt choice medport builds
  std::string stem_kind;
  Feature x = stem(net, input, &stem_kind);
  std::string depths, widths;
  const auto stages = child_indices(net.w, "stages");
  if (stages.empty()) throw InputError(net.w.path().string(), "no ConvNeXt stages (stages.*) in the weights");
  for (int s : stages) {
    const std::string st = "stages." + std::to_string(s);
    if (net.has(st + ".downsample.1.weight")) {
      x = layer_norm_2d(net, x, st + ".downsample.0");
      const Shape& k = net.shape_of(st + ".downsample.1.weight");
      ConvSpec down;
      down.stride = k.size() == 4 ? k[2] : 2;
      down.pad = 0;
      x = net.conv(x, st + ".downsample.1", down);
    }
    const auto blocks = child_indices(net.w, st + ".blocks");
    for (int i : blocks) x = block(net, x, st + ".blocks." + std::to_string(i));
    depths += (depths.empty() ? "" : "/") + std::to_string(blocks.size());
    widths += (widths.empty() ? "" : "/") + std::to_string(x.channels);
  }
  const bool conv_mlp = net.shape_of("stages." + std::to_string(stages[0]) + ".blocks.0.mlp.fc1.weight").size() == 4;
  net.details.push_back("stem: " + stem_kind + "; stages: " + depths + " blocks, " + widths + " channels; MLP as " +
                        (conv_mlp ? "1x1 convs" : "linear layers"));
  graph::Value features;
  if (net.has("norm_pre.weight")) {  // head_norm_first
    x = layer_norm_2d(net, x, "norm_pre");
    features = net.global_avg_pool_flat(x);
  } else {
    features = net.global_avg_pool_flat(x);
    features = layer_norm_last(net, features, "head.norm", x.channels);
  }
  if (net.has("head.pre_logits.fc.weight"))
    features = net.b.gelu(net.linear(features, "head.pre_logits.fc"), "head_pre_logits_act");
  return net.linear(features, "head.fc");
}

}  // namespace medport::models::timm
