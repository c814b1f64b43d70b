// timm's EfficientNet builder networks (timm/models/efficientnet.py, mobilenetv3.py,
// _efficientnet_blocks.py): conv_stem + bn1, stages blocks.S.B of depthwise-separable (DS),
// inverted-residual (IR, "MBConv") and conv-bn-act (CN) blocks with optional squeeze-excitation,
// then EfficientNet's conv_head + bn2 -> pool -> classifier, or MobileNetV3's pool -> conv_head ->
// act -> classifier.
#include <string>
#include <vector>

#include "medport/error.hpp"
#include "models/timm/networks.hpp"

namespace medport::models::timm {
namespace {

// What the weights cannot tell, per stage: the first block's stride and the blocks' activation.
struct StageRule {
  std::int64_t stride;
  Act act;
};

struct Style {
  std::vector<StageRule> stages;
  Act stem_act;
  Act se_act;      // activation inside squeeze-excitation (nullopt-like None: the block's own)
  Act se_gate;
  bool mobilenet_head;
  float bn_eps;
  Padding padding;
  std::string description;
};

Style style_for(const Arch& arch) {
  Style s;
  s.bn_eps = arch.tf_port ? 1e-3f : 1e-5f;  // timm's BN_EPS_TF_DEFAULT for TensorFlow ports
  s.padding = arch.tf_port ? Padding::TfSame : Padding::Symmetric;
  const std::string& n = arch.name;
  if (arch.family == ArchFamily::EfficientNet) {
    const bool lite = n.find("lite") != std::string::npos;
    const Act a = lite ? Act::ReLU6 : Act::SiLU;
    s.stages = {{1, a}, {2, a}, {2, a}, {2, a}, {1, a}, {2, a}, {1, a}};
    s.stem_act = a;
    s.se_act = a;
    s.se_gate = Act::Sigmoid;
    s.mobilenet_head = false;
    s.description = lite ? "EfficientNet-Lite (ReLU6)" : "EfficientNet (SiLU)";
    return s;
  }
  const bool small = n.find("small") != std::string::npos;
  const bool minimal = n.find("minimal") != std::string::npos;
  const Act r = Act::ReLU;
  const Act h = minimal ? Act::ReLU : Act::HardSwish;
  if (small)
    s.stages = {{2, r}, {2, r}, {2, h}, {1, h}, {2, h}, {1, h}};
  else
    s.stages = {{1, r}, {2, r}, {2, r}, {2, h}, {1, h}, {2, h}, {1, h}};
  s.stem_act = h;
  s.se_act = Act::ReLU;
  s.se_gate = Act::HardSigmoid;
  s.mobilenet_head = true;
  s.description = std::string("MobileNetV3-") + (small ? "Small" : "Large") + (minimal ? " minimal (ReLU)" : " (ReLU/hard-swish)");
  return s;
}

struct BlockContext {
  const Net& net;
  const Style& style;
};

Feature conv_bn(const BlockContext& c, const Feature& x, const std::string& conv, const std::string& bn,
                std::int64_t stride, Act act) {
  ConvSpec spec;
  spec.stride = stride;
  spec.padding = c.style.padding;
  return c.net.act(c.net.conv_bn(x, conv, bn, c.style.bn_eps, spec), act);
}

Feature se_if_any(const BlockContext& c, const Feature& x, const std::string& p, Act block_act) {
  if (!c.net.has(p + ".se.conv_reduce.weight")) return x;
  const Act inner = c.style.mobilenet_head ? c.style.se_act : block_act;
  return c.net.squeeze_excite(x, p + ".se.conv_reduce", p + ".se.conv_expand", inner, c.style.se_gate);
}

// Returns the block kind for the report ("ir", "ds", "cn").
std::string block(const BlockContext& c, Feature& x, const std::string& p, std::int64_t stride, Act act) {
  const Net& net = c.net;
  Feature y;
  std::string kind;
  bool skip_allowed = true;
  if (net.has(p + ".conv_pwl.weight")) {
    kind = "ir";
    y = conv_bn(c, x, p + ".conv_pw", p + ".bn1", 1, act);
    y = conv_bn(c, y, p + ".conv_dw", p + ".bn2", stride, act);
    y = se_if_any(c, y, p, act);
    y = conv_bn(c, y, p + ".conv_pwl", p + ".bn3", 1, Act::None);
  } else if (net.has(p + ".conv_dw.weight")) {
    kind = "ds";
    y = conv_bn(c, x, p + ".conv_dw", p + ".bn1", stride, act);
    y = se_if_any(c, y, p, act);
    y = conv_bn(c, y, p + ".conv_pw", p + ".bn2", 1, Act::None);
  } else if (net.has(p + ".conv.weight")) {
    kind = "cn";
    skip_allowed = false;  // ConvBnAct blocks of these networks never skip
    y = conv_bn(c, x, p + ".conv", p + ".bn1", stride, act);
  } else {
    throw InputError(net.w.path().string(), "block '" + net.w.root_prefix() + p +
                                                "' is none of the supported kinds (inverted residual, depthwise "
                                                "separable, conv-bn-act)");
  }
  if (skip_allowed && stride == 1 && x.channels == y.channels) {
    const auto scope = net.b.scope(p);
    y.value = net.b.add(y.value, x.value, "residual");
  }
  x = y;
  return kind;
}

}  // namespace

graph::Value build_efficientnet(const Net& net, const Feature& input, const Arch& arch) {
  const Style style = style_for(arch);
  const BlockContext c{net, style};
  Feature x = conv_bn(c, input, "conv_stem", "bn1", 2, style.stem_act);
  const auto stages = child_indices(net.w, "blocks");
  if (stages.size() != style.stages.size())
    throw InputError(net.w.path().string(), "the weights hold " + std::to_string(stages.size()) + " block stages but " +
                                                arch.name + " has " + std::to_string(style.stages.size()));
  std::string layout;
  for (std::size_t s = 0; s < stages.size(); ++s) {
    if (stages[s] != static_cast<int>(s))
      throw InputError(net.w.path().string(), "block stage blocks." + std::to_string(s) + " is missing");
    const std::string stage = "blocks." + std::to_string(s);
    const auto blocks = child_indices(net.w, stage);
    std::string kinds;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i] != static_cast<int>(i))
        throw InputError(net.w.path().string(), "stage " + stage + " misses block " + std::to_string(i));
      const std::int64_t stride = i == 0 ? style.stages[s].stride : 1;
      const std::string kind = block(c, x, stage + "." + std::to_string(i), stride, style.stages[s].act);
      if (kinds.find(kind) == std::string::npos) kinds += (kinds.empty() ? "" : "+") + kind;
    }
    layout += (layout.empty() ? "" : ", ") + std::to_string(blocks.size()) + "x" + kinds + " " + std::to_string(x.channels);
  }
  net.details.push_back(style.description + "; stages: " + layout);
  if (arch.tf_port) net.details.push_back("TensorFlow port: 'same' padding, BatchNorm eps 1e-3");
  graph::Value features;
  if (style.mobilenet_head) {
    Feature pooled{net.b.global_avg_pool(x.value, "global_pool"), x.channels, 1, 1};
    ConvSpec one;
    one.padding = style.padding;
    pooled = net.act(net.conv(pooled, "conv_head", one), style.stem_act);
    features = net.b.flatten(pooled.value, 1, "flatten");
  } else {
    x = conv_bn(c, x, "conv_head", "bn2", 1, style.stem_act);
    features = net.global_avg_pool_flat(x);
  }
  return net.linear(features, "classifier");
}

}  // namespace medport::models::timm
