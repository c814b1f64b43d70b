// timm ResNet / ResNeXt / SE-ResNet (timm/models/resnet.py): a 7x7 or deep 3x3 stem, max pool,
// stages layer1..layerN of BasicBlocks or Bottlenecks with conv or average-pool downsampling.
#include <string>

#include "medport/error.hpp"
#include "models/timm/networks.hpp"

namespace medport::models::timm {
namespace {

constexpr float kBnEps = 1e-5f;

Feature conv_bn(const Net& net, const Feature& x, const std::string& conv, const std::string& bn, std::int64_t stride,
                Act act) {
  ConvSpec spec;
  spec.stride = stride;
  return net.act(net.conv_bn(x, conv, bn, kBnEps, spec), act);
}

Feature stem(const Net& net, const Feature& x) {
  Feature y;
  if (net.has("conv1.weight")) {
    y = conv_bn(net, x, "conv1", "bn1", 2, Act::ReLU);
    net.details.push_back("stem: " + std::to_string(net.shape_of("conv1.weight")[2]) + "x" +
                          std::to_string(net.shape_of("conv1.weight")[3]) + " conv, " + std::to_string(y.channels) +
                          " channels");
  } else {
    y = conv_bn(net, x, "conv1.0", "conv1.1", 2, Act::ReLU);
    const std::int64_t first = y.channels;
    y = conv_bn(net, y, "conv1.3", "conv1.4", 1, Act::ReLU);
    const std::int64_t second = y.channels;
    y = conv_bn(net, y, "conv1.6", "bn1", 1, Act::ReLU);
    net.details.push_back("stem: deep 3x3 convs " + std::to_string(first) + "/" + std::to_string(second) + "/" +
                          std::to_string(y.channels) + (first < second ? " (tiered)" : ""));
  }
  if (net.has("maxpool.0.weight")) {  // replace_stem_pool: a strided conv instead of the max pool
    y = conv_bn(net, y, "maxpool.0", "maxpool.1", 2, Act::ReLU);
    return y;
  }
  graph::PoolOptions pool;
  pool.kernel_shape = {3, 3};
  pool.strides = {2, 2};
  pool.pads = {1, 1, 1, 1};
  return {net.b.max_pool(y.value, pool, "maxpool"), y.channels, (y.height - 1) / 2 + 1, (y.width - 1) / 2 + 1};
}

Feature squeeze_excite_if_any(const Net& net, const Feature& x, const std::string& p) {
  if (!net.has(p + ".se.fc1.weight")) return x;
  if (net.has(p + ".se.bn.weight"))
    throw InputError(net.w.path().string(), "squeeze-excitation with batch norm ('" + net.w.root_prefix() + p +
                                                ".se.bn') is not supported");
  return net.squeeze_excite(x, p + ".se.fc1", p + ".se.fc2", Act::ReLU, Act::Sigmoid);
}

Feature shortcut(const Net& net, const Feature& x, const std::string& p, std::int64_t stride, bool* avg_down) {
  const std::string d = p + ".downsample";
  if (net.has(d + ".0.weight")) {
    ConvSpec spec;
    spec.stride = stride;
    return net.conv_bn(x, d + ".0", d + ".1", kBnEps, spec);
  }
  if (net.has(d + ".1.weight")) {  // avg_down: AvgPool2d(2, stride, ceil_mode, count_include_pad=False) + 1x1 conv
    *avg_down = true;
    Feature pooled = x;
    if (stride > 1) {
      graph::PoolOptions pool;
      pool.kernel_shape = {2, 2};
      pool.strides = {stride, stride};
      pool.ceil_mode = true;
      pool.count_include_pad = false;
      const auto scope = net.b.scope(d + ".0");
      pooled = {net.b.avg_pool(x.value, pool, "pool"), x.channels, (x.height - 2 + stride - 1) / stride + 1,
                (x.width - 2 + stride - 1) / stride + 1};
    }
    ConvSpec one;
    one.pad = 0;
    return net.conv_bn(pooled, d + ".1", d + ".2", kBnEps, one);
  }
  return x;
}

Feature block(const Net& net, const Feature& x, const std::string& p, std::int64_t stride, bool* avg_down) {
  Feature y;
  if (net.has(p + ".conv3.weight")) {  // Bottleneck
    y = conv_bn(net, x, p + ".conv1", p + ".bn1", 1, Act::ReLU);
    y = conv_bn(net, y, p + ".conv2", p + ".bn2", stride, Act::ReLU);
    y = conv_bn(net, y, p + ".conv3", p + ".bn3", 1, Act::None);
  } else {  // BasicBlock
    y = conv_bn(net, x, p + ".conv1", p + ".bn1", stride, Act::ReLU);
    y = conv_bn(net, y, p + ".conv2", p + ".bn2", 1, Act::None);
  }
  y = squeeze_excite_if_any(net, y, p);
  const Feature sc = shortcut(net, x, p, stride, avg_down);
  if (sc.channels != y.channels || sc.height != y.height || sc.width != y.width)
    throw InputError(net.w.path().string(), "block '" + net.w.root_prefix() + p + "' has no downsample for its " +
                                                std::to_string(x.channels) + " -> " + std::to_string(y.channels) +
                                                " channel change");
  const auto scope = net.b.scope(p);
  return {net.b.relu(net.b.add(y.value, sc.value, "residual"), "act"), y.channels, y.height, y.width};
}

}  // namespace

graph::Value build_resnet(const Net& net, const Feature& input, const Arch& arch) {
  (void)arch;  // every ResNet member shares strides (1, 2, 2, 2) and ReLU; the weights tell the rest
  Feature x = stem(net, input);
  std::string depths, widths;
  bool bottleneck = false, avg_down = false;
  for (int stage = 1;; ++stage) {
    const std::string layer = "layer" + std::to_string(stage);
    const auto blocks = child_indices(net.w, layer);
    if (blocks.empty()) {
      if (stage == 1) throw InputError(net.w.path().string(), "no ResNet stages (layer1.*) in the weights");
      break;
    }
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i] != static_cast<int>(i))
        throw InputError(net.w.path().string(), "ResNet stage " + layer + " misses block " + std::to_string(i));
      const std::string p = layer + "." + std::to_string(i);
      bottleneck = bottleneck || net.has(p + ".conv3.weight");
      x = block(net, x, p, (stage > 1 && i == 0) ? 2 : 1, &avg_down);
    }
    depths += (depths.empty() ? "" : "/") + std::to_string(blocks.size());
    widths += (widths.empty() ? "" : "/") + std::to_string(x.channels);
  }
  net.details.push_back(std::string(bottleneck ? "Bottleneck" : "BasicBlock") + " stages: " + depths + " blocks, " +
                        widths + " channels" + (avg_down ? ", average-pool downsampling" : ""));
  const graph::Value pooled = net.global_avg_pool_flat(x);
  return net.linear(pooled, "fc");
}

}  // namespace medport::models::timm
