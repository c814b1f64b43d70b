#include "medport/models/nnunet/graph.hpp"

#include <optional>

#include "medport/graph/builder.hpp"
#include "medport/models/nnunet/layout.hpp"

namespace medport::models::nnunet {
namespace {

using graph::Builder;
using graph::Value;

std::string without_dot(const std::string& prefix) {
  return !prefix.empty() && prefix.back() == '.' ? prefix.substr(0, prefix.size() - 1) : prefix;
}

class Emitter {
 public:
  Emitter(Builder& b, const Architecture& arch, const Weights& weights) : b_(b), arch_(arch), weights_(weights) {}

  Value weight(const std::string& key) { return b_.initializer(key, weights_.at(key)); }
  std::optional<Value> maybe_weight(const std::string& key) {
    if (!weights_.count(key)) return std::nullopt;
    return weight(key);
  }

  Value per_channel_constant(std::int64_t channels, float value, const char* hint) {
    return b_.const_f32(std::vector<float>(static_cast<std::size_t>(channels), value), {channels}, hint);
  }

  Value norm(const Value& x, const ConvUnit& u) {
    const std::string n = u.prefix + "norm.";
    const Value scale = arch_.norm_affine ? weight(n + "weight") : per_channel_constant(u.out_channels, 1.f, "ones");
    const Value bias = arch_.norm_affine ? weight(n + "bias") : per_channel_constant(u.out_channels, 0.f, "zeros");
    const auto eps = static_cast<float>(arch_.norm_eps);
    if (arch_.norm == NormKind::Instance) return b_.instance_norm(x, scale, bias, eps, "norm");
    return b_.batch_norm(x, scale, bias, weight(n + "running_mean"), weight(n + "running_var"), eps, "norm");
  }

  Value nonlin(const Value& x, const char* hint = "nonlin") {
    switch (arch_.nonlin) {
      case NonlinKind::LeakyReLU: return b_.leaky_relu(x, static_cast<float>(arch_.negative_slope), hint);
      case NonlinKind::ReLU: return b_.relu(x, hint);
      case NonlinKind::None: break;
    }
    return x;
  }

  // ConvDropoutNormReLU (dropout is the identity at inference).
  Value conv_unit(Value x, const ConvUnit& u) {
    auto scope = b_.scope(without_dot(u.prefix));
    graph::ConvOptions opt;
    opt.strides = u.stride;
    std::vector<std::int64_t> pads;
    for (auto k : u.kernel) pads.push_back((k - 1) / 2);
    opt.pads = graph::symmetric_pads(pads);
    opt.kernel_shape = u.kernel;
    x = b_.conv(x, weight(u.prefix + "conv.weight"), maybe_weight(u.prefix + "conv.bias"), opt, "conv");
    const bool has_norm = arch_.norm != NormKind::None;
    const bool has_nonlin = u.nonlin && arch_.nonlin != NonlinKind::None;
    if (u.nonlin_first && has_norm && has_nonlin) return norm(nonlin(x), u);
    if (has_norm) x = norm(x, u);
    if (has_nonlin) x = nonlin(x);
    return x;
  }

  Value residual_block(const Value& x, const ResidualBlock& block) {
    Value skip = x;
    if (!block.pool.empty()) {
      auto scope = b_.scope(without_dot(block.prefix) + ".skip");
      graph::PoolOptions pool;
      pool.kernel_shape = block.pool;
      pool.strides = block.pool;
      skip = b_.avg_pool(skip, pool, "avg_pool");
    }
    if (block.projection) skip = conv_unit(skip, *block.projection);
    const Value out = conv_unit(conv_unit(x, block.conv1), block.conv2);
    auto scope = b_.scope(without_dot(block.prefix));
    return nonlin(b_.add(out, skip, "add"), "nonlin2");
  }

  Value upsample(const Value& x, const DecoderStage& d) {
    auto scope = b_.scope(without_dot(d.transpconv_prefix));
    graph::ConvTransposeOptions opt;
    opt.strides = d.transpconv_stride;
    opt.kernel_shape = d.transpconv_stride;
    return b_.conv_transpose(x, weight(d.transpconv_prefix + "weight"), maybe_weight(d.transpconv_prefix + "bias"),
                             opt, "conv_transpose");
  }

  Value seg_head(const Value& x, const DecoderStage& d) {
    auto scope = b_.scope(without_dot(d.seg_prefix));
    graph::ConvOptions opt;
    opt.kernel_shape.assign(static_cast<std::size_t>(arch_.dim), 1);
    return b_.conv(x, weight(d.seg_prefix + "weight"), weight(d.seg_prefix + "bias"), opt, "conv");
  }

 private:
  Builder& b_;
  const Architecture& arch_;
  const Weights& weights_;
};

graph::Dims io_dims(const Architecture& arch, std::int64_t channels, const std::string& tag) {
  graph::Dims dims{graph::Dim("batch"), graph::Dim(channels)};
  for (int d = 0; d < arch.dim; ++d) dims.emplace_back(tag + "spatial" + std::to_string(d));
  return dims;
}

}  // namespace

std::vector<std::string> output_names(const Architecture& arch, const GraphOptions& options) {
  std::vector<std::string> names{kOutputName};
  if (options.deep_supervision)
    for (int j = 1; j + 1 < arch.n_stages; ++j) names.push_back("deep_supervision_" + std::to_string(j));
  return names;
}

graph::Graph build_graph(const Architecture& arch, const Weights& weights, const GraphOptions& options) {
  Builder b("nnunet_" + arch.class_short_name(), options.opset);
  Emitter e(b, arch, weights);
  const NetworkLayout net = network_layout(arch);
  Value x = b.input(kInputName, DType::F32, io_dims(arch, arch.input_channels, ""));
  if (net.stem) x = e.conv_unit(x, *net.stem);
  std::vector<Value> skips;
  for (const auto& stage : net.encoder) {
    for (const auto& u : stage.convs) x = e.conv_unit(x, u);
    for (const auto& block : stage.blocks) x = e.residual_block(x, block);
    skips.push_back(x);
  }
  std::vector<Value> heads;  // computation order: lowest resolution first
  for (std::size_t i = 0; i < net.decoder.size(); ++i) {
    const auto& d = net.decoder[i];
    const Value up = e.upsample(x, d);
    {
      auto scope = b.scope("decoder.stages." + std::to_string(i));
      x = b.concat({up, skips[skips.size() - 2 - i]}, 1, "concat");
    }
    for (const auto& u : d.convs) x = e.conv_unit(x, u);
    if (options.deep_supervision || i + 1 == net.decoder.size()) heads.push_back(e.seg_head(x, d));
  }
  const auto names = output_names(arch, options);
  for (std::size_t j = 0; j < heads.size(); ++j) {
    const Value& head = heads[heads.size() - 1 - j];
    const std::string tag = j == 0 ? "" : "ds" + std::to_string(j) + "_";
    b.output(head, names[j], io_dims(arch, arch.num_classes, tag));
  }
  b.set_metadata("medport.family", "nnunet");
  b.set_metadata("medport.network_class", arch.class_short_name());
  return std::move(b).finish();
}

}  // namespace medport::models::nnunet
