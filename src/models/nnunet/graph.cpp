#include "medport/models/nnunet/graph.hpp"

#include <optional>

#include "medport/graph/blocks.hpp"
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

  graph::blocks::Norm norm_for(const ConvUnit& u) {
    graph::blocks::Norm n;
    if (arch_.norm == NormKind::None) return n;
    const std::string p = u.prefix + "norm.";
    n.kind = arch_.norm == NormKind::Instance ? graph::blocks::NormKind::Instance : graph::blocks::NormKind::Batch;
    n.scale = arch_.norm_affine ? weight(p + "weight") : per_channel_constant(u.out_channels, 1.f, "ones");
    n.bias = arch_.norm_affine ? weight(p + "bias") : per_channel_constant(u.out_channels, 0.f, "zeros");
    if (arch_.norm == NormKind::Batch) {
      n.mean = weight(p + "running_mean");
      n.variance = weight(p + "running_var");
    }
    n.epsilon = static_cast<float>(arch_.norm_eps);
    return n;
  }

  graph::blocks::Activation nonlin() const {
    switch (arch_.nonlin) {
      case NonlinKind::LeakyReLU:
        return {graph::blocks::ActKind::LeakyReLU, static_cast<float>(arch_.negative_slope)};
      case NonlinKind::ReLU: return {graph::blocks::ActKind::ReLU};
      case NonlinKind::None: break;
    }
    return {};
  }

  // ConvDropoutNormReLU (dropout is the identity at inference).
  Value conv_unit(const Value& x, const ConvUnit& u) {
    auto scope = b_.scope(without_dot(u.prefix));
    graph::blocks::ConvNormAct unit;
    unit.weight = weight(u.prefix + "conv.weight");
    unit.bias = maybe_weight(u.prefix + "conv.bias");
    unit.conv.strides = u.stride;
    unit.conv.pads = graph::blocks::same_pads(u.kernel);
    unit.conv.kernel_shape = u.kernel;
    unit.norm = norm_for(u);
    if (u.nonlin) unit.activation = nonlin();
    unit.activation_first = u.nonlin_first;
    return graph::blocks::conv_norm_act(b_, x, unit);
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
    return graph::blocks::residual(b_, out, skip, nonlin());
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

std::optional<std::size_t> misfit_spatial_axis(const Shape& input_shape, std::span<const std::int64_t> stride_product) {
  for (std::size_t k = 0; k < stride_product.size() && k + 2 < input_shape.size(); ++k)
    if (stride_product[k] > 0 && input_shape[k + 2] % stride_product[k] != 0) return k;
  return std::nullopt;
}

}  // namespace medport::models::nnunet
