#include "models/timm/layers.hpp"

#include <algorithm>
#include <set>

#include "medport/error.hpp"

namespace medport::models::timm {
namespace {

// timm.layers.get_padding: symmetric padding for a kernel and stride.
std::int64_t timm_padding(std::int64_t kernel, std::int64_t stride) { return ((stride - 1) + (kernel - 1)) / 2; }

// TensorFlow "same": output ceil(in / stride), the odd pixel of padding at the end.
std::pair<std::int64_t, std::int64_t> tf_same_padding(std::int64_t in, std::int64_t kernel, std::int64_t stride) {
  const std::int64_t out = (in + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + kernel - in, 0);
  return {total / 2, total - total / 2};
}

std::int64_t conv_out(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t pad_total) {
  return (in + pad_total - kernel) / stride + 1;
}

}  // namespace

std::string act_name(Act act) {
  switch (act) {
    case Act::None: return "identity";
    case Act::ReLU: return "relu";
    case Act::ReLU6: return "relu6";
    case Act::SiLU: return "silu";
    case Act::GELU: return "gelu";
    case Act::HardSwish: return "hard_swish";
    case Act::HardSigmoid: return "hard_sigmoid";
    case Act::Sigmoid: return "sigmoid";
  }
  return "?";
}

const Shape& Net::shape_of(const std::string& name) const {
  const ckpt::WeightInfo* info = w.info(name);
  if (!info) throw InputError(w.path().string(), "tensor '" + w.root_prefix() + name + "' is missing");
  return info->shape;
}

graph::Value Net::param(const std::string& name) const { return b.initializer(name, w.require(name)); }

graph::Value Net::param(const std::string& name, const Shape& shape) const {
  return b.initializer(name, w.require(name, shape));
}

std::optional<graph::Value> Net::optional_param(const std::string& name) const {
  if (!w.contains(name)) return std::nullopt;
  return param(name);
}

namespace {

struct ConvGeometry {
  graph::ConvOptions options;
  Feature out;  // sizes only
};

ConvGeometry conv_geometry(const Net& net, const Feature& x, const std::string& prefix, const ConvSpec& spec) {
  const Shape& ws = net.shape_of(prefix + ".weight");
  const std::string where = net.w.root_prefix() + prefix + ".weight";
  const std::string file = net.w.path().string();
  if (ws.size() != 4 || ws[1] < 1 || x.channels % ws[1] != 0)
    throw InputError(file, "tensor '" + where + "' " + shape_string(ws) + " is not a 2D convolution over " +
                               std::to_string(x.channels) + " channels");
  const std::int64_t groups = x.channels / ws[1];
  if (ws[0] % groups != 0)
    throw InputError(file, "tensor '" + where + "' " + shape_string(ws) + ": output channels do not split into " +
                               std::to_string(groups) + " groups");
  ConvGeometry g;
  g.options.strides = {spec.stride, spec.stride};
  g.options.groups = groups;
  g.options.kernel_shape = {ws[2], ws[3]};
  std::int64_t ph0 = 0, ph1 = 0, pw0 = 0, pw1 = 0;
  if (spec.padding == Padding::TfSame) {
    std::tie(ph0, ph1) = tf_same_padding(x.height, ws[2], spec.stride);
    std::tie(pw0, pw1) = tf_same_padding(x.width, ws[3], spec.stride);
  } else {
    ph0 = ph1 = spec.pad.value_or(timm_padding(ws[2], spec.stride));
    pw0 = pw1 = spec.pad.value_or(timm_padding(ws[3], spec.stride));
  }
  g.options.pads = {ph0, pw0, ph1, pw1};
  g.out.channels = ws[0];
  g.out.height = conv_out(x.height, ws[2], spec.stride, ph0 + ph1);
  g.out.width = conv_out(x.width, ws[3], spec.stride, pw0 + pw1);
  if (g.out.height < 1 || g.out.width < 1)
    throw InputError(file, "the input is too small for '" + where + "' (" + std::to_string(x.height) + "x" +
                               std::to_string(x.width) + ")");
  return g;
}

}  // namespace

Feature Net::conv(const Feature& x, const std::string& prefix, const ConvSpec& spec) const {
  ConvGeometry g = conv_geometry(*this, x, prefix, spec);
  const auto scope = b.scope(prefix);
  g.out.value = b.conv(x.value, param(prefix + ".weight"), optional_param(prefix + ".bias"), g.options, "conv");
  return g.out;
}

Feature Net::conv_bn(const Feature& x, const std::string& conv_prefix, const std::string& bn, float eps,
                     const ConvSpec& spec) const {
  const Feature y = conv(x, conv_prefix, spec);
  const Shape c{y.channels};
  auto scale = param(bn + ".weight", c);
  auto bias = param(bn + ".bias", c);
  auto mean = param(bn + ".running_mean", c);
  auto var = param(bn + ".running_var", c);
  if (w.contains(bn + ".num_batches_tracked")) w.mark_used(bn + ".num_batches_tracked");
  const auto scope = b.scope(bn);
  const auto fp32 = b.keep_fp32();
  return {b.batch_norm(y.value, scale, bias, mean, var, eps, "bn"), y.channels, y.height, y.width};
}

graph::Value Net::act(const graph::Value& x, Act a) const {
  switch (a) {
    case Act::None: return x;
    case Act::ReLU: return b.relu(x);
    case Act::ReLU6: return b.clip(x, 0.0, 6.0, "relu6");
    case Act::SiLU: return b.silu(x);
    case Act::GELU: return b.gelu(x);
    case Act::HardSwish: return b.hard_swish(x);
    case Act::HardSigmoid: return b.hard_sigmoid(x);
    case Act::Sigmoid: return b.sigmoid(x);
  }
  return x;
}

graph::Value Net::linear(const graph::Value& x, const std::string& prefix) const {
  const Shape& ws = shape_of(prefix + ".weight");
  if (ws.size() != 2)
    throw InputError(w.path().string(), "tensor '" + w.root_prefix() + prefix + ".weight' " + shape_string(ws) +
                                            " is not a linear layer's weight");
  auto weight = param(prefix + ".weight");
  auto bias = optional_param(prefix + ".bias");
  const auto scope = b.scope(prefix);
  return b.linear(x, weight, bias, "linear");
}

Feature Net::squeeze_excite(const Feature& x, const std::string& reduce, const std::string& expand, Act a,
                            Act gate) const {
  Feature s{b.reduce_mean(x.value, {2, 3}, true, "se_mean"), x.channels, 1, 1};
  s = conv(s, reduce);
  s = act(s, a);
  s = conv(s, expand);
  if (s.channels != x.channels)
    throw InputError(w.path().string(), "squeeze-excitation '" + w.root_prefix() + expand + "' gives " +
                                            std::to_string(s.channels) + " channels for " + std::to_string(x.channels));
  return {b.mul(x.value, act(s.value, gate), "se_scale"), x.channels, x.height, x.width};
}

graph::Value Net::global_avg_pool_flat(const Feature& x) const {
  return b.flatten(b.global_avg_pool(x.value, "global_pool"), 1, "flatten");
}

std::vector<int> child_indices(const ckpt::WeightSource& w, const std::string& prefix) {
  std::set<int> found;
  const std::string head = prefix + ".";
  for (const auto& t : w.index()) {
    if (!t.name.starts_with(head)) continue;
    const std::string rest = t.name.substr(head.size());
    const auto dot = rest.find('.');
    const std::string part = rest.substr(0, dot);
    if (part.empty() || part.size() > 6 || !std::all_of(part.begin(), part.end(), ::isdigit)) continue;
    found.insert(std::stoi(part));
  }
  return {found.begin(), found.end()};
}

}  // namespace medport::models::timm
