// nnU-Net's network wrapped for apps: raw pixels -> normalization -> network -> softmax/argmax.
#include <algorithm>

#include "medport/error.hpp"
#include "medport/graph/builder.hpp"
#include "medport/models/nnunet/graph.hpp"

namespace medport::models::nnunet {
namespace {

using graph::Builder;
using graph::Value;

std::vector<std::int64_t> patch_size(const Json& cfg, std::size_t dims, const std::string& source) {
  std::vector<std::int64_t> patch;
  if (cfg.contains("patch_size") && cfg["patch_size"].is_array())
    for (const auto& v : cfg["patch_size"]) patch.push_back(v.get<std::int64_t>());
  if (patch.size() != dims) throw InputError(source, "--app needs the configuration's patch_size (" + std::to_string(dims) + " dims)");
  return patch;
}

double property(const Json& props, std::size_t channel, const char* key, const std::string& source) {
  const std::string c = std::to_string(channel);
  if (!props.is_object() || !props.contains(c) || !props[c].contains(key) || !props[c][key].is_number())
    throw InputError(source, "CTNormalization of channel " + c + " needs foreground_intensity_properties_per_channel." + key);
  return props[c][key].get<double>();
}

// One channel [1, 1, *patch] normalized the way nnunetv2's default schemes do it.
Value normalize(Builder& b, const Value& x, const std::string& scheme, std::size_t channel, const Json& props,
                std::size_t dims, const std::string& source) {
  std::vector<std::int64_t> spatial;
  for (std::size_t d = 0; d < dims; ++d) spatial.push_back(static_cast<std::int64_t>(d + 2));
  if (scheme == "NoNormalization") return x;
  if (scheme == "RGBTo0_1Normalization") return b.div(x, 255.0, "rgb_to_01");
  if (scheme == "RescaleTo01Normalization") {
    const Value shifted = b.sub(x, b.reduce("ReduceMin", x, spatial, true, "min"), "shifted");
    return b.div(shifted, b.clip(b.reduce_max(shifted, spatial, true, "max"), 1e-8, std::nullopt, "range"), "rescaled");
  }
  if (scheme == "ZScoreNormalization") {
    // Population mean and std over the whole patch; std floored at 1e-8.
    const Value centred = b.sub(x, b.reduce_mean(x, spatial, true, "mean"), "centred");
    const Value std = b.sqrt(b.reduce_mean(b.mul(centred, centred, "squared"), spatial, true, "variance"), "std");
    return b.div(centred, b.clip(std, 1e-8, std::nullopt, "std_floor"), "zscore");
  }
  if (scheme == "CTNormalization") {
    const double lo = property(props, channel, "percentile_00_5", source);
    const double hi = property(props, channel, "percentile_99_5", source);
    const double mean = property(props, channel, "mean", source);
    const double std = std::max(property(props, channel, "std", source), 1e-8);
    return b.div(b.sub(b.clip(x, lo, hi, "clipped"), mean, "centred"), std, "ct");
  }
  throw InputError(source, "--app: unknown normalization scheme '" + scheme + "'");
}

}  // namespace

graph::Graph build_app_graph(const Architecture& arch, const Weights& weights, const Json& cfg, const Json& plans,
                             bool has_regions, const std::string& source, int opset) {
  if (has_regions)
    throw InputError(source, "--app: region-based models (sigmoid outputs painted in regions_class_order) are not supported");
  const auto dims = static_cast<std::size_t>(arch.dim);
  const auto patch = patch_size(cfg, dims, source);
  const Json schemes = cfg.contains("normalization_schemes") ? cfg["normalization_schemes"] : Json::array();
  const Json masks = cfg.contains("use_mask_for_norm") ? cfg["use_mask_for_norm"] : Json::array();
  const Json props = plans.contains("foreground_intensity_properties_per_channel")
                         ? plans["foreground_intensity_properties_per_channel"]
                         : Json::object();
  const auto channels = static_cast<std::size_t>(arch.input_channels);
  if (schemes.size() != channels)
    throw InputError(source, "--app: the configuration names " + std::to_string(schemes.size()) +
                                 " normalization schemes for " + std::to_string(channels) + " input channels");
  for (std::size_t c = 0; c < masks.size(); ++c)
    if (masks[c].is_boolean() && masks[c].get<bool>())
      throw InputError(source, "--app: use_mask_for_norm (normalization inside the nonzero region) is not supported");

  // The network on its own input; the front part is spliced in before it.
  GraphOptions options;
  options.opset = opset;
  graph::Graph net = build_graph(arch, weights, options);
  Builder b(std::move(net));
  graph::Dims in_dims{1, static_cast<std::int64_t>(channels)};
  for (auto p : patch) in_dims.emplace_back(p);
  const std::size_t network_nodes = b.graph().nodes.size();
  const Value image = b.input(kAppInputName, DType::F32, in_dims);
  std::vector<Value> normalized;
  {
    // Raw pixels are normalized in float32 whatever the model's precision.
    auto scope = b.scope("app.normalization");
    auto fp32 = b.keep_fp32();
    for (std::size_t c = 0; c < channels; ++c) {
      const Value channel = channels == 1 ? image
                                          : b.slice(image, {static_cast<std::int64_t>(c)}, {static_cast<std::int64_t>(c + 1)}, {1});
      normalized.push_back(normalize(b, channel, schemes[c].get<std::string>(), c, props, dims, source));
    }
  }
  const Value net_input = channels == 1 ? b.identity(normalized[0], "app.normalized") : b.concat(normalized, 1, "app.normalized");
  const Value logits = b.value(kOutputName);
  const Value probabilities = b.softmax(logits, 1, "app.softmax");
  const Value labels = b.argmax(logits, 1, false, "app.argmax");
  b.output(probabilities, kAppProbabilities);
  b.output(labels, kAppLabels);
  graph::Graph g = std::move(b).finish();

  // Splice: the network reads the normalized image; the front nodes move before it.
  const std::size_t added_front = [&] {
    std::size_t n = 0;
    for (std::size_t i = network_nodes; i < g.nodes.size(); ++i)
      if (g.nodes[i].name.rfind("app.normalization", 0) == 0 || g.nodes[i].name.rfind("app.normalized", 0) == 0) ++n;
    return n;
  }();
  std::vector<graph::Node> front, rest;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    const bool is_front = i >= network_nodes && (g.nodes[i].name.rfind("app.normalization", 0) == 0 ||
                                                 g.nodes[i].name.rfind("app.normalized", 0) == 0);
    (is_front ? front : rest).push_back(std::move(g.nodes[i]));
  }
  if (front.size() != added_front) throw std::logic_error("app graph: front nodes miscounted");
  for (auto& node : rest)
    for (auto& in : node.inputs)
      if (in == kInputName) in = net_input.name();
  g.nodes = std::move(front);
  g.nodes.insert(g.nodes.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  std::erase_if(g.inputs, [](const graph::ValueInfo& v) { return v.name == kInputName; });
  std::erase_if(g.outputs, [](const graph::ValueInfo& v) { return v.name == kOutputName; });
  graph::validate(g);
  return g;
}

}  // namespace medport::models::nnunet
