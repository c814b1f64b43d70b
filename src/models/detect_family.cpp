#include "medport/models/detect_family.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string_view>

namespace medport::models {
namespace {

// Containers real training code stores the network's state dict under.
constexpr std::array<std::string_view, 9> kStateDictPrefixes{
    "network_weights.", "state_dict.", "model_state_dict.", "model_state.", "model.",
    "ema_model.", "module.", "net.", ""};

struct View {
  std::string prefix;
  std::map<std::string, Shape> tensors;  // relative key -> shape

  bool has(const std::string& key) const { return tensors.count(key) != 0; }
  std::size_t count_matching(const std::regex& re) const {
    return static_cast<std::size_t>(std::count_if(tensors.begin(), tensors.end(),
                                                  [&](const auto& kv) { return std::regex_match(kv.first, re); }));
  }
  std::set<int> indices(const std::regex& re) const {  // first capture group as int
    std::set<int> out;
    std::smatch m;
    for (const auto& [k, _] : tensors)
      if (std::regex_match(k, m, re)) out.insert(std::stoi(m[1].str()));
    return out;
  }
};

View view_under(const std::vector<TensorInfo>& tensors, std::string_view prefix) {
  View v{std::string(prefix), {}};
  for (const auto& t : tensors) {
    if (t.path.rfind(prefix, 0) != 0) continue;
    std::string rel = t.path.substr(prefix.size());
    if (rel.rfind("module.", 0) == 0) rel = rel.substr(7);  // DataParallel wrapper
    v.tensors.emplace(std::move(rel), t.shape);
  }
  return v;
}

std::string shape_text(const View& v, const std::string& key) {
  auto it = v.tensors.find(key);
  return it == v.tensors.end() ? "?" : shape_string(it->second);
}

std::optional<FamilyDetection> detect_nnunet_v2(const View& v) {
  static const std::regex plain_stage(R"(encoder\.stages\.(\d+)\.0\.convs\.\d+\.conv\.weight)");
  static const std::regex resenc_stage(R"(encoder\.stages\.(\d+)\.blocks\.\d+\.conv1\.conv\.weight)");
  static const std::regex seg_layer(R"(decoder\.seg_layers\.(\d+)\.weight)");
  const auto seg = v.indices(seg_layer);
  if (seg.empty() || v.count_matching(std::regex(R"(decoder\.transpconvs\.\d+\.weight)")) == 0) return std::nullopt;
  FamilyDetection d;
  d.state_dict_prefix = v.prefix;
  const auto plain = v.indices(plain_stage);
  const auto resenc = v.indices(resenc_stage);
  const std::string last_seg = "decoder.seg_layers." + std::to_string(*seg.rbegin()) + ".weight";
  if (v.has("encoder.stem.convs.0.conv.weight") && !resenc.empty()) {
    d.family = "nnunet_v2_resenc";
    d.display_name = "nnU-Net v2 ResidualEncoderUNet";
    d.evidence.push_back("encoder.stem.convs.0.conv.weight and encoder.stages.*.blocks.*.conv1 (residual encoder)");
    d.evidence.push_back(std::to_string(resenc.size()) + " encoder stages");
  } else if (!plain.empty()) {
    d.family = "nnunet_v2_plain";
    d.display_name = "nnU-Net v2 PlainConvUNet";
    d.evidence.push_back("encoder.stages.*.0.convs.*.conv.weight (plain conv encoder)");
    d.evidence.push_back(std::to_string(plain.size()) + " encoder stages");
  } else {
    return std::nullopt;
  }
  d.evidence.push_back("decoder.transpconvs.* and " + std::to_string(seg.size()) + " decoder.seg_layers.*");
  d.evidence.push_back(last_seg + " " + shape_text(v, last_seg) + " -> " +
                       std::to_string(v.tensors.at(last_seg).empty() ? 0 : v.tensors.at(last_seg)[0]) +
                       " output channels");
  if (v.count_matching(std::regex(R"(decoder\.encoder\..*)")) > 0)
    d.evidence.push_back("decoder.encoder.* aliases (dynamic_network_architectures UNetDecoder)");
  return d;
}

std::optional<FamilyDetection> detect_nnunet_v1(const View& v) {
  const std::regex context(R"(conv_blocks_context\.(\d+)\..*)");
  const auto stages = v.indices(context);
  if (stages.empty() || v.count_matching(std::regex(R"(seg_outputs\.\d+\.weight)")) == 0) return std::nullopt;
  FamilyDetection d{"nnunet_v1_generic", "nnU-Net v1 Generic_UNet", v.prefix, {}};
  d.evidence.push_back("conv_blocks_context.* (" + std::to_string(stages.size()) + " encoder stages)");
  d.evidence.push_back("conv_blocks_localization.*, tu.*, seg_outputs.* (Generic_UNet layout)");
  return d;
}

std::optional<FamilyDetection> detect_guided_diffusion(const View& v) {
  if (!v.has("time_embed.0.weight") || !v.has("input_blocks.0.0.weight") || !v.has("out.2.weight")) return std::nullopt;
  FamilyDetection d{"guided_diffusion_unet", "guided-diffusion UNet", v.prefix, {}};
  d.evidence.push_back("time_embed.0.weight " + shape_text(v, "time_embed.0.weight") + " (timestep embedding MLP)");
  d.evidence.push_back("input_blocks.0.0.weight " + shape_text(v, "input_blocks.0.0.weight") + ", out.2.weight " +
                       shape_text(v, "out.2.weight"));
  const auto blocks = v.indices(std::regex(R"(input_blocks\.(\d+)\..*)"));
  d.evidence.push_back(std::to_string(blocks.size()) + " input_blocks, middle_block, output_blocks");
  const auto attn = v.count_matching(std::regex(R"(.*\.qkv\.weight)"));
  if (attn) d.evidence.push_back(std::to_string(attn) + " attention blocks (qkv)");
  return d;
}

std::optional<FamilyDetection> detect_iris(const View& v) {
  if (!v.has("task_encoder.query_tokens")) return std::nullopt;
  if (v.count_matching(std::regex(R"(mask_decoder\..*)")) == 0) return std::nullopt;
  FamilyDetection d{"iris", "IRIS (few-shot 3D segmenter)", v.prefix, {}};
  d.evidence.push_back("task_encoder.query_tokens " + shape_text(v, "task_encoder.query_tokens") +
                       " (m query tokens x C)");
  d.evidence.push_back("encoder.*, task_encoder.*, mask_decoder.* modules");
  return d;
}

}  // namespace

FamilyDetection detect_family(const std::vector<TensorInfo>& tensors) {
  for (auto prefix : kStateDictPrefixes) {
    const View v = view_under(tensors, prefix);
    if (v.tensors.empty()) continue;
    for (auto detector : {detect_nnunet_v2, detect_nnunet_v1, detect_guided_diffusion, detect_iris}) {
      if (auto d = detector(v)) {
        if (!prefix.empty()) d->evidence.insert(d->evidence.begin(), "network weights under '" + std::string(prefix.substr(0, prefix.size() - 1)) + "'");
        return *d;
      }
    }
  }
  return {"unknown", "unknown", "", {"no known architecture's key layout matched the tensor names"}};
}

}  // namespace medport::models
