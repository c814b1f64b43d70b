// guided-diffusion UNets (EchoGAINS) as a model family: a plain state dict (optionally under
// "state_dict."/"model."/"module.") -> the UNet graph x, t -> out.
#include "medport/models/guided_diffusion/family.hpp"

#include <regex>
#include <stdexcept>
#include <string>

#include "medport/error.hpp"
#include "medport/models/guided_diffusion/convert.hpp"
#include "models/detection.hpp"

namespace medport::models::guided_diffusion {

nlohmann::ordered_json sidecar_section(const UNetConfig& c) {
  nlohmann::ordered_json levels = nlohmann::ordered_json::array();
  for (std::size_t l = 0; l < c.levels(); ++l)
    levels.push_back({{"channels", c.level_channels[l]}, {"attention", static_cast<bool>(c.level_attention[l])}});
  return {
      {"spatial_multiple", c.spatial_multiple()},
      {"unet",
       {{"in_channels", c.in_channels},
        {"out_channels", c.out_channels},
        {"learn_sigma", c.learn_sigma()},
        {"model_channels", c.model_channels},
        {"num_res_blocks", c.num_res_blocks},
        {"levels", levels},
        {"use_scale_shift_norm", c.scale_shift_norm},
        {"resblock_updown", c.resblock_updown},
        {"num_classes", c.num_classes},
        {"num_head_channels", c.choices.num_head_channels},
        {"num_heads", c.choices.num_heads},
        {"attention_order", c.choices.attention_order == AttentionOrder::Legacy ? "legacy" : "new"},
        {"image_size", c.choices.image_size}}},
      {"diffusion",
       {{"diffusion_steps", 4000},
        {"noise_schedule", "linear"},
        {"timestep_respacing", "250"},
        {"variance", c.learn_sigma() ? "learned_range" : "fixed_small"},
        {"repaint", {{"t_T", 250}, {"n_sample", 1}, {"jump_length", 10}, {"jump_n_sample", 10}}}}},
  };
}

StateDict state_dict_of(const ckpt::WeightSource& network) {
  StateDict sd;
  for (const auto& w : network.index()) sd.emplace(w.name, network.require(w.name));
  return sd;
}

namespace {

std::int64_t parse_option_int(const std::string& name, const std::string& value, std::int64_t low) {
  std::size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || v < low || v > 1'000'000)
    throw UsageError("guided-diffusion option " + name + " must be an integer >= " + std::to_string(low) +
                     ", got '" + value + "'");
  return v;
}

}  // namespace

UNetChoices choices_from_options(const std::map<std::string, std::string>& options) {
  UNetChoices c;
  bool head_channels_given = false;
  for (const auto& [name, value] : options) {
    if (name == "num_head_channels") {
      c.num_head_channels = value == "-1" ? -1 : parse_option_int(name, value, 1);
      head_channels_given = true;
    } else if (name == "num_heads") {
      c.num_heads = parse_option_int(name, value, 1);
    } else if (name == "attention_order") {
      c.attention_order = parse_attention_order(value);
    } else if (name == "image_size") {
      c.image_size = parse_option_int(name, value, 1);
    } else {
      throw UsageError("guided-diffusion models take no option '" + name + "'");
    }
  }
  if (options.count("num_heads") && !head_channels_given) c.num_head_channels = -1;
  return c;
}

namespace {

std::optional<Detection> detect_unet(const NameView& v) {
  if (!v.has("time_embed.0.weight") || !v.has("input_blocks.0.0.weight") || !v.has("out.2.weight")) return std::nullopt;
  static const std::regex input_block(R"(input_blocks\.(\d+)\..*)");
  static const std::regex qkv(R"(.*\.qkv\.weight)");
  Detection d;
  d.family = "guided_diffusion";
  d.variant = "UNetModel";
  d.display_name = "guided-diffusion UNet";
  d.evidence.push_back("time_embed.0.weight " + v.shape_text("time_embed.0.weight") + " (timestep embedding MLP)");
  d.evidence.push_back("input_blocks.0.0.weight " + v.shape_text("input_blocks.0.0.weight") + ", out.2.weight " +
                       v.shape_text("out.2.weight"));
  d.evidence.push_back(std::to_string(v.indices(input_block).size()) + " input_blocks, middle_block, output_blocks");
  if (const auto attn = v.count_matching(qkv)) d.evidence.push_back(std::to_string(attn) + " attention blocks (qkv)");
  return d;
}

std::vector<TensorSpec> io(const UNetConfig& c, bool output) {
  if (output) return {{kOutput, "float32", {std::string("N"), c.out_channels, std::string("H"), std::string("W")}}};
  std::vector<TensorSpec> in{{kInputX, "float32", {std::string("N"), c.in_channels, std::string("H"), std::string("W")}},
                             {kInputT, "int64", {std::string("N")}}};
  if (c.num_classes > 0) in.push_back({kInputY, "int64", {std::string("N")}});
  return in;
}

class GuidedDiffusionFamily final : public ModelFamily {
 public:
  std::string_view id() const override { return "guided_diffusion"; }
  std::string_view display_name() const override { return "guided-diffusion UNet (EchoGAINS)"; }

  std::optional<Detection> detect(const ckpt::WeightSource& weights) const override {
    return detect_in_views(weights, detect_unet);
  }

  std::vector<FamilyOption> options() const override {
    return {{"num_head_channels", "channels per attention head (default 1; -1: use num_heads)"},
            {"num_heads", "attention heads (alone: heads by count)"},
            {"attention_order", "legacy (default) or new"},
            {"image_size", "training image size (recorded in the sidecar)"}};
  }

  BuiltModel build(const ckpt::WeightSource& weights, const Detection& detection,
                   const ConvertContext& context) const override {
    const ckpt::WeightSource network = weights.within(detection.prefix);
    const StateDict sd = state_dict_of(network);
    const UNetConfig config = infer_unet_config(sd, choices_from_options(context.options.family_options),
                                                weights.path().string());
    UNetGraphOptions options;
    options.opset = context.options.opset;
    BuiltModel out;
    out.graphs.push_back({"model", build_unet_graph(config, sd, options)});
    out.parameters = count_parameters(sd);
    out.tensors_total = network.index().size();
    out.tensors_used = network.used_count();  // infer_unet_config refuses leftovers
    out.sidecar.variant = "UNetModel";
    out.sidecar.graphs.push_back({"model", "", io(config, false), io(config, true), "fp32"});
    out.sidecar.family_section = sidecar_section(config);
    out.details.push_back(config.describe());
    out.details.push_back(std::string("attention: ") +
                          (config.choices.attention_order == AttentionOrder::Legacy ? "legacy" : "new") + " order, " +
                          (config.choices.num_head_channels > 0
                               ? "head width " + std::to_string(config.choices.num_head_channels)
                               : std::to_string(config.choices.num_heads) + " heads"));
    return out;
  }
};

}  // namespace

const ModelFamily& family() {
  static const GuidedDiffusionFamily instance;
  return instance;
}

}  // namespace medport::models::guided_diffusion
