#include "medport/models/guided_diffusion/convert.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"
#include "medport/graph/fp16.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/models/detect_family.hpp"
#include "medport/util/file_io.hpp"

namespace medport::models::guided_diffusion {
namespace {

nlohmann::json sidecar_json(const LoadedUNet& unet, const ConvertRequest& request) {
  const UNetConfig& c = unet.config;
  nlohmann::json levels = nlohmann::json::array();
  for (std::size_t l = 0; l < c.levels(); ++l) {
    levels.push_back({{"channels", c.level_channels[l]}, {"attention", static_cast<bool>(c.level_attention[l])}});
  }
  return {
      {"family", "guided_diffusion_unet"},
      {"onnx", request.output.filename().string()},
      {"checkpoint", unet.checkpoint.string()},
      {"inputs",
       {{{"name", kInputX}, {"dtype", "float32"}, {"shape", {"N", c.in_channels, "H", "W"}}},
        {{"name", kInputT}, {"dtype", "int64"}, {"shape", {"N"}}}}},
      {"outputs", {{{"name", kOutput}, {"dtype", "float32"}, {"shape", {"N", c.out_channels, "H", "W"}}}}},
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
      {"fp16", request.fp16},
      {"opset", request.opset},
  };
}

}  // namespace

LoadedUNet load_unet(const std::filesystem::path& checkpoint, const UNetChoices& choices) {
  const ckpt::TorchCheckpoint ckpt = ckpt::load_torch_checkpoint(checkpoint);
  std::vector<TensorInfo> infos;
  for (const auto& entry : ckpt.tensors) infos.push_back({entry.path, entry.tensor.shape()});
  const FamilyDetection family = detect_family(infos);
  LoadedUNet unet;
  unet.checkpoint = checkpoint;
  if (family.family == "guided_diffusion_unet") unet.prefix = family.state_dict_prefix;
  for (const auto& entry : ckpt.tensors) {
    if (!entry.path.starts_with(unet.prefix)) continue;
    unet.state_dict.emplace(entry.path.substr(unet.prefix.size()), entry.tensor);
  }
  unet.config = infer_unet_config(unet.state_dict, choices, checkpoint.string());
  return unet;
}

std::filesystem::path unet_sidecar_path(const std::filesystem::path& onnx_path) {
  auto p = onnx_path;
  if (p.extension() == ".onnx") p.replace_extension();
  return p.string() + ".medport.json";
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

ConvertReport convert_guided_diffusion(const ConvertRequest& request, const UNetChoices& choices) {
  if (request.output.empty()) throw UsageError("an output path is required (-o OUT.onnx)");
  if (request.opset < 17) throw UsageError("--opset must be at least 17");
  const LoadedUNet unet = load_unet(request.source, choices);
  UNetGraphOptions options;
  options.opset = request.opset;
  graph::Graph g = build_unet_graph(unet.config, unet.state_dict, options);
  if (request.fp16) g = graph::convert_to_fp16(g);

  ConvertReport report;
  report.family = "guided-diffusion";
  report.network_class = "UNetModel";
  report.checkpoint = request.source;
  report.tensors_total = unet.state_dict.size();
  report.tensors_used = unet.state_dict.size();  // infer_unet_config refuses leftovers
  report.parameters = count_parameters(unet.state_dict);
  report.details.push_back(unet.config.describe());
  report.details.push_back(std::string("attention: ") +
                           (unet.config.choices.attention_order == AttentionOrder::Legacy ? "legacy" : "new") +
                           " order, " +
                           (unet.config.choices.num_head_channels > 0
                                ? "head width " + std::to_string(unet.config.choices.num_head_channels)
                                : std::to_string(unet.config.choices.num_heads) + " heads"));
  const auto written = graph::write_onnx(g, request.output);
  report.files.push_back(written.model_path);
  if (!written.data_path.empty()) report.files.push_back(written.data_path);
  const auto sidecar = unet_sidecar_path(request.output);
  write_file_atomic(sidecar, sidecar_json(unet, request).dump(2) + "\n");
  report.files.push_back(sidecar);
  return report;
}

FamilyConverter guided_diffusion_family_converter() {
  FamilyConverter c;
  c.name = "guided-diffusion";
  c.families = {"guided_diffusion_unet"};
  c.convert = [](const ConvertRequest& request) {
    return convert_guided_diffusion(request, choices_from_options(request.family_options));
  };
  return c;
}

}  // namespace medport::models::guided_diffusion
