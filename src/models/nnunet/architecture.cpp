#include "medport/models/nnunet/architecture.hpp"

#include <algorithm>
#include <set>

#include "medport/error.hpp"

namespace medport::models::nnunet {
namespace {

std::string last_component(const std::string& qualified) {
  const auto dot = qualified.rfind('.');
  return dot == std::string::npos ? qualified : qualified.substr(dot + 1);
}

std::string optional_string(const Json& kw, const char* key) {
  if (!kw.contains(key) || kw[key].is_null()) return {};
  if (!kw[key].is_string()) throw std::invalid_argument(std::string(key) + " must be a string or null");
  return kw[key].get<std::string>();
}

// An int broadcast to `n` entries, or a list of exactly `n` ints.
std::vector<std::int64_t> int_list(const Json& value, std::size_t n, const std::string& what) {
  std::vector<std::int64_t> out;
  if (value.is_number_integer()) {
    out.assign(n, value.get<std::int64_t>());
  } else if (value.is_array()) {
    for (const auto& v : value) {
      if (!v.is_number_integer()) throw std::invalid_argument(what + " must hold integers");
      out.push_back(v.get<std::int64_t>());
    }
  } else {
    throw std::invalid_argument(what + " must be an integer or a list of integers");
  }
  if (out.size() != n)
    throw std::invalid_argument(what + " has " + std::to_string(out.size()) + " entries, expected " + std::to_string(n));
  for (auto v : out)
    if (v <= 0 || v > (1 << 20)) throw std::invalid_argument(what + " holds an out-of-range value " + std::to_string(v));
  return out;
}

// kernel_sizes / strides: an int, or per stage an int or a per-axis list.
std::vector<std::vector<std::int64_t>> per_stage_axes(const Json& value, int n_stages, int dim, const std::string& what) {
  std::vector<std::vector<std::int64_t>> out;
  if (value.is_number_integer()) {
    out.assign(static_cast<std::size_t>(n_stages), int_list(value, static_cast<std::size_t>(dim), what));
    return out;
  }
  if (!value.is_array() || value.size() != static_cast<std::size_t>(n_stages))
    throw std::invalid_argument(what + " must have one entry per stage (" + std::to_string(n_stages) + ")");
  for (std::size_t s = 0; s < value.size(); ++s)
    out.push_back(int_list(value[s], static_cast<std::size_t>(dim), what + "[" + std::to_string(s) + "]"));
  return out;
}

std::vector<int> counts(const Json& value, std::size_t n, const std::string& what) {
  std::vector<int> out;
  for (auto v : int_list(value, n, what)) {
    if (v > 64) throw std::invalid_argument(what + " value " + std::to_string(v) + " is implausibly large");
    out.push_back(static_cast<int>(v));
  }
  return out;
}

int dimension_of_conv_op(const std::string& conv_op) {
  const std::string name = last_component(conv_op);
  if (name == "Conv1d") return 1;
  if (name == "Conv2d") return 2;
  if (name == "Conv3d") return 3;
  throw std::invalid_argument("unsupported conv_op '" + conv_op + "' (expected Conv2d or Conv3d)");
}

// The older flat plans layout (UNet_class_name, conv_kernel_sizes, ...), converted the way
// nnunetv2's ConfigurationManager does.
Json arch_from_flat_layout(const Json& config) {
  const std::string unet = config.at("UNet_class_name").get<std::string>();
  if (unet != "PlainConvUNet" && unet != "ResidualEncoderUNet")
    throw std::invalid_argument("unknown UNet_class_name '" + unet + "'");
  const auto& enc = config.at("n_conv_per_stage_encoder");
  const std::size_t n_stages = enc.size();
  const std::size_t dim = config.at("patch_size").size();
  const auto base = config.at("UNet_base_num_features").get<std::int64_t>();
  const auto cap = config.at("unet_max_num_features").get<std::int64_t>();
  Json features = Json::array();
  for (std::size_t i = 0; i < n_stages; ++i)
    features.push_back(std::min<std::int64_t>(base << std::min<std::size_t>(i, 30), cap));
  const std::string d = std::to_string(dim);
  Json kw = {{"n_stages", n_stages},
             {"features_per_stage", features},
             {"conv_op", "torch.nn.modules.conv.Conv" + d + "d"},
             {"kernel_sizes", config.at("conv_kernel_sizes")},
             {"strides", config.at("pool_op_kernel_sizes")},
             {unet == "PlainConvUNet" ? "n_conv_per_stage" : "n_blocks_per_stage", enc},
             {"n_conv_per_stage_decoder", config.at("n_conv_per_stage_decoder")},
             {"conv_bias", true},
             {"norm_op", "torch.nn.modules.instancenorm.InstanceNorm" + d + "d"},
             {"norm_op_kwargs", {{"eps", 1e-5}, {"affine", true}}},
             {"dropout_op", nullptr},
             {"dropout_op_kwargs", nullptr},
             {"nonlin", "torch.nn.LeakyReLU"},
             {"nonlin_kwargs", {{"inplace", true}}}};
  return {{"network_class_name", "dynamic_network_architectures.architectures.unet." + unet}, {"arch_kwargs", kw}};
}

Architecture parse_arch(const Json& arch_json, std::int64_t input_channels, std::int64_t num_classes) {
  Architecture a;
  a.network_class_name = arch_json.at("network_class_name").get<std::string>();
  const std::string cls = last_component(a.network_class_name);
  if (cls == "PlainConvUNet") {
    a.network_class = NetworkClass::PlainConvUNet;
  } else if (cls == "ResidualEncoderUNet") {
    a.network_class = NetworkClass::ResidualEncoderUNet;
  } else {
    throw std::invalid_argument("network class '" + a.network_class_name +
                                "' is not supported (supported: PlainConvUNet, ResidualEncoderUNet)");
  }
  const Json& kw = arch_json.at("arch_kwargs");
  if (!kw.is_object()) throw std::invalid_argument("arch_kwargs must be an object");
  const bool plain = a.network_class == NetworkClass::PlainConvUNet;
  static const std::set<std::string> common{"n_stages", "features_per_stage", "conv_op", "kernel_sizes", "strides",
                                            "n_conv_per_stage_decoder", "conv_bias", "norm_op", "norm_op_kwargs",
                                            "dropout_op", "dropout_op_kwargs", "nonlin", "nonlin_kwargs",
                                            "deep_supervision"};
  for (const auto& [key, value] : kw.items()) {
    if (common.count(key)) continue;
    if (plain && (key == "n_conv_per_stage" || key == "nonlin_first")) continue;
    if (!plain && (key == "n_blocks_per_stage" || key == "stem_channels")) continue;
    if (!plain && key == "block" && (value.is_null() || last_component(value.get<std::string>()) == "BasicBlockD"))
      continue;
    if (!plain && key == "bottleneck_channels" && value.is_null()) continue;
    throw std::invalid_argument("arch_kwargs key '" + key + "' is not supported for " + cls);
  }

  a.dim = dimension_of_conv_op(kw.at("conv_op").get<std::string>());
  const auto n_stages = kw.at("n_stages").get<std::int64_t>();
  if (n_stages < 2 || n_stages > 16) throw std::invalid_argument("n_stages must be in 2..16");
  a.n_stages = static_cast<int>(n_stages);
  const auto ns = static_cast<std::size_t>(n_stages);
  a.features_per_stage = int_list(kw.at("features_per_stage"), ns, "features_per_stage");
  a.kernel_sizes = per_stage_axes(kw.at("kernel_sizes"), a.n_stages, a.dim, "kernel_sizes");
  a.strides = per_stage_axes(kw.at("strides"), a.n_stages, a.dim, "strides");
  for (const auto& k : a.kernel_sizes)
    for (auto v : k)
      if (v % 2 == 0) throw std::invalid_argument("even kernel sizes are not supported (padding would be asymmetric)");
  a.n_per_stage = counts(kw.at(plain ? "n_conv_per_stage" : "n_blocks_per_stage"), ns,
                         plain ? "n_conv_per_stage" : "n_blocks_per_stage");
  a.n_conv_per_stage_decoder = counts(kw.at("n_conv_per_stage_decoder"), ns - 1, "n_conv_per_stage_decoder");
  a.stem_channels = a.features_per_stage[0];
  if (!plain && kw.contains("stem_channels") && !kw["stem_channels"].is_null())
    a.stem_channels = int_list(kw["stem_channels"], 1, "stem_channels")[0];
  a.conv_bias = kw.value("conv_bias", false);
  a.nonlin_first = plain && kw.value("nonlin_first", false);

  const std::string norm = last_component(optional_string(kw, "norm_op"));
  const Json norm_kwargs = kw.contains("norm_op_kwargs") && kw["norm_op_kwargs"].is_object() ? kw["norm_op_kwargs"]
                                                                                              : Json::object();
  if (norm.empty()) {
    a.norm = NormKind::None;
  } else if (norm.rfind("InstanceNorm", 0) == 0) {
    a.norm = NormKind::Instance;
    a.norm_affine = norm_kwargs.value("affine", false);  // torch's InstanceNorm default
    if (norm_kwargs.value("track_running_stats", false))
      throw std::invalid_argument("InstanceNorm with track_running_stats is not supported");
  } else if (norm.rfind("BatchNorm", 0) == 0) {
    a.norm = NormKind::Batch;
    a.norm_affine = norm_kwargs.value("affine", true);
    if (!norm_kwargs.value("track_running_stats", true))
      throw std::invalid_argument("BatchNorm without running statistics is not supported");
  } else {
    throw std::invalid_argument("unsupported norm_op '" + norm + "' (InstanceNorm or BatchNorm)");
  }
  if (a.norm != NormKind::None) {
    if (norm != "InstanceNorm" + std::to_string(a.dim) + "d" && norm != "BatchNorm" + std::to_string(a.dim) + "d")
      throw std::invalid_argument("norm_op '" + norm + "' does not match conv_op dimension " + std::to_string(a.dim));
    a.norm_eps = norm_kwargs.value("eps", 1e-5);
    if (!(a.norm_eps >= 0.0)) throw std::invalid_argument("norm eps must be non-negative");
  }

  const std::string dropout = last_component(optional_string(kw, "dropout_op"));
  if (!dropout.empty() && dropout.rfind("Dropout", 0) != 0 && dropout != "AlphaDropout")
    throw std::invalid_argument("unsupported dropout_op '" + dropout + "'");
  a.dropout = !dropout.empty();

  const std::string nonlin = last_component(optional_string(kw, "nonlin"));
  const Json nonlin_kwargs = kw.contains("nonlin_kwargs") && kw["nonlin_kwargs"].is_object() ? kw["nonlin_kwargs"]
                                                                                             : Json::object();
  if (nonlin.empty()) {
    a.nonlin = NonlinKind::None;
  } else if (nonlin == "LeakyReLU") {
    a.nonlin = NonlinKind::LeakyReLU;
    a.negative_slope = nonlin_kwargs.value("negative_slope", 0.01);
  } else if (nonlin == "ReLU") {
    a.nonlin = NonlinKind::ReLU;
  } else {
    throw std::invalid_argument("unsupported nonlin '" + nonlin + "' (LeakyReLU or ReLU)");
  }
  a.input_channels = input_channels;
  a.num_classes = num_classes;
  return a;
}

}  // namespace

std::vector<std::int64_t> Architecture::stride_product() const {
  std::vector<std::int64_t> p(static_cast<std::size_t>(dim), 1);
  for (const auto& s : strides)
    for (std::size_t d = 0; d < p.size(); ++d) p[d] *= s[d];
  return p;
}

std::string Architecture::class_short_name() const {
  return network_class == NetworkClass::PlainConvUNet ? "PlainConvUNet" : "ResidualEncoderUNet";
}

LabelInfo label_info(const Json& dataset_json, const std::string& source) {
  if (!dataset_json.contains("labels") || !dataset_json["labels"].is_object())
    throw InputError(source, "dataset.json has no 'labels' object");
  LabelInfo info;
  std::set<std::int64_t> values;
  std::int64_t foreground_regions = 0;
  for (const auto& [name, value] : dataset_json["labels"].items()) {
    if (name == "ignore") continue;
    std::set<std::int64_t> members;
    if (value.is_array()) {
      for (const auto& v : value) {
        if (!v.is_number_integer()) throw InputError(source, "label '" + name + "' must hold integers");
        members.insert(v.get<std::int64_t>());
      }
      if (value.size() > 1) info.has_regions = true;
    } else if (value.is_number_integer()) {
      members.insert(value.get<std::int64_t>());
    } else {
      throw InputError(source, "label '" + name + "' must be an integer or a list of integers");
    }
    values.insert(members.begin(), members.end());
    const bool background_only = members.size() == 1 && *members.begin() == 0;
    if (!background_only) ++foreground_regions;
  }
  if (values.empty()) throw InputError(source, "dataset.json declares no labels");
  info.all_labels.assign(values.begin(), values.end());
  info.num_heads = info.has_regions ? foreground_regions : static_cast<std::int64_t>(info.all_labels.size());
  return info;
}

Json resolve_configuration(const Json& plans, const std::string& configuration, const std::string& source) {
  if (!plans.contains("configurations") || !plans["configurations"].is_object())
    throw InputError(source, "plans have no 'configurations' object");
  const Json& configs = plans["configurations"];
  std::vector<std::string> visited;
  std::string name = configuration;
  std::vector<Json> chain;
  while (true) {
    if (!configs.contains(name)) {
      std::string known;
      for (const auto& [k, _] : configs.items()) known += (known.empty() ? "" : ", ") + k;
      throw InputError(source, "configuration '" + name + "' is not in the plans (have: " + known + ")");
    }
    if (std::find(visited.begin(), visited.end(), name) != visited.end())
      throw InputError(source, "circular 'inherits_from' chain at configuration '" + name + "'");
    visited.push_back(name);
    chain.push_back(configs[name]);
    if (!configs[name].is_object()) throw InputError(source, "configuration '" + name + "' is not an object");
    if (!configs[name].contains("inherits_from")) break;
    name = configs[name]["inherits_from"].get<std::string>();
  }
  Json resolved = Json::object();
  for (auto it = chain.rbegin(); it != chain.rend(); ++it)
    for (const auto& [k, v] : it->items()) resolved[k] = v;
  return resolved;
}

Architecture architecture_from_plans(const Json& plans, const Json& dataset_json, const std::string& configuration,
                                     const std::string& source) {
  const Json config = resolve_configuration(plans, configuration, source);
  const LabelInfo labels = label_info(dataset_json, source);
  std::int64_t inputs = 0;
  if (dataset_json.contains("channel_names") && dataset_json["channel_names"].is_object())
    inputs = static_cast<std::int64_t>(dataset_json["channel_names"].size());
  else if (dataset_json.contains("modality") && dataset_json["modality"].is_object())
    inputs = static_cast<std::int64_t>(dataset_json["modality"].size());
  else
    throw InputError(source, "dataset.json has neither 'channel_names' nor 'modality'");
  if (config.contains("previous_stage") && !config["previous_stage"].is_null())
    inputs += static_cast<std::int64_t>(std::count_if(labels.all_labels.begin(), labels.all_labels.end(),
                                                      [](std::int64_t v) { return v != 0; }));
  try {
    const Json arch = config.contains("architecture") ? config["architecture"] : arch_from_flat_layout(config);
    return parse_arch(arch, inputs, labels.num_heads);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(source, "configuration '" + configuration + "': " + e.what());
  }
}

}  // namespace medport::models::nnunet
