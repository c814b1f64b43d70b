#include "medport/models/timm/timm_family.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "medport/error.hpp"
#include "medport/models/timm/classifier_config.hpp"
#include "models/timm/checkpoint_facts.hpp"
#include "models/timm/data_config.hpp"
#include "models/timm/networks.hpp"

namespace medport::models::timm {
namespace {

struct Choices {
  std::optional<std::string> arch;
  bool ema = false;
  std::optional<std::string> classes;
  UserChoices data;
  bool logits = false;
};

bool flag_value(const std::string& name, const std::string& v) {
  if (v == "true" || v == "1" || v.empty()) return true;
  if (v == "false" || v == "0") return false;
  throw UsageError("timm option " + name + " takes true or false, got '" + v + "'");
}

Choices parse_choices(const std::map<std::string, std::string>& options) {
  Choices c;
  for (const auto& [name, value] : options) {
    if (name == "arch") c.arch = value;
    else if (name == "ema") c.ema = flag_value(name, value);
    else if (name == "classes") c.classes = value;
    else if (name == "mean") c.data.mean = parse_channel_triple(value, "--mean", false);
    else if (name == "std") c.data.std = parse_channel_triple(value, "--std", true);
    else if (name == "logits") c.logits = flag_value(name, value);
    else throw UsageError("timm classifiers take no option '" + name + "'");
  }
  return c;
}

const char* head_weight(ArchFamily family) {
  switch (family) {
    case ArchFamily::ResNet: return "fc.weight";
    case ArchFamily::EfficientNet:
    case ArchFamily::MobileNetV3: return "classifier.weight";
    case ArchFamily::ConvNeXt: return "head.fc.weight";
    case ArchFamily::ViT: return "head.weight";
  }
  return "";
}

const char* stem_weight(ArchFamily family, const ckpt::WeightSource& w) {
  switch (family) {
    case ArchFamily::ResNet: return w.contains("conv1.weight") ? "conv1.weight" : "conv1.0.weight";
    case ArchFamily::EfficientNet:
    case ArchFamily::MobileNetV3: return "conv_stem.weight";
    case ArchFamily::ConvNeXt: return "stem.0.weight";
    case ArchFamily::ViT: return "patch_embed.proj.weight";
  }
  return "";
}

ArchFamily layout_family(ArchFamily f) { return f == ArchFamily::MobileNetV3 ? ArchFamily::EfficientNet : f; }

std::string family_label(ArchFamily f) {
  switch (f) {
    case ArchFamily::ResNet: return "ResNet";
    case ArchFamily::EfficientNet: return "EfficientNet";
    case ArchFamily::MobileNetV3: return "MobileNetV3";
    case ArchFamily::ConvNeXt: return "ConvNeXt";
    case ArchFamily::ViT: return "ViT";
  }
  return "?";
}

graph::Value build_network(const Net& net, const Feature& x, const Arch& arch) {
  switch (arch.family) {
    case ArchFamily::ResNet: return build_resnet(net, x, arch);
    case ArchFamily::EfficientNet:
    case ArchFamily::MobileNetV3: return build_efficientnet(net, x, arch);
    case ArchFamily::ConvNeXt: return build_convnext(net, x, arch);
    case ArchFamily::ViT: return build_vit(net, x, arch);
  }
  throw InputError(net.w.path().string(), "unknown architecture family");
}

// image (0..255) -> (image / 255 - mean) / std, as the training pipeline's ToTensor + Normalize.
graph::Value normalized_input(graph::Builder& b, const graph::Value& image, const ClassifierConfig& c) {
  const auto scope = b.scope("preprocess");
  const std::vector<float> mean{static_cast<float>(c.mean[0]), static_cast<float>(c.mean[1]), static_cast<float>(c.mean[2])};
  const std::vector<float> std{static_cast<float>(c.std[0]), static_cast<float>(c.std[1]), static_cast<float>(c.std[2])};
  const graph::Value unit = b.div(image, 255.0, "to_unit");
  return b.div(b.sub(unit, b.const_f32(mean, {1, 3, 1, 1}, "mean"), "sub_mean"), b.const_f32(std, {1, 3, 1, 1}, "std"),
               "div_std");
}

std::vector<SidecarDim> dims(std::initializer_list<SidecarDim> d) { return d; }

std::string fmt_crop(double v) { return fmt::format("{:g}", v); }

}  // namespace

std::optional<Detection> TimmFamily::detect(const ckpt::WeightSource& weights) const {
  const CheckpointFacts facts = read_checkpoint_facts(weights);
  for (const auto& prefix : weight_prefixes()) {
    if (prefix == "state_dict_ema" && weights.contains("state_dict.fc.weight")) continue;  // prefer the live weights
    const ckpt::WeightSource view = weights.within(prefix);
    if (view.index().empty()) continue;
    const auto match = match_layout(view);
    if (!match) continue;
    Detection d;
    d.family = std::string(id());
    d.variant = std::string(arch_family_id(match->family));
    d.display_name = "timm " + family_label(match->family) + " classifier";
    d.prefix = prefix;
    if (!prefix.empty()) d.evidence.push_back("network weights under '" + prefix + "'");
    d.evidence.insert(d.evidence.end(), match->evidence.begin(), match->evidence.end());
    if (facts.arch) {
      d.evidence.push_back("architecture '" + facts.arch->value + "' from " + facts.arch->from);
      const auto arch = try_resolve_arch(facts.arch->value);
      if (!arch)
        d.unsupported_reason = "timm architecture '" + facts.arch->value + "' is not supported; supported families: " +
                               supported_families_text();
      else if (layout_family(arch->family) != match->family)
        d.unsupported_reason = "the checkpoint names '" + facts.arch->value + "' but its weights are laid out like a " +
                               family_label(match->family);
    }
    if (facts.has_ema) d.evidence.push_back("EMA weights in state_dict_ema (convert them with --ema)");
    return d;
  }
  // A timm train.py checkpoint of an architecture medport does not build.
  if (facts.arch && facts.has_training_args && !try_resolve_arch(facts.arch->value)) {
    Detection d;
    d.family = std::string(id());
    d.variant = facts.arch->value;
    d.display_name = "timm classifier " + facts.arch->value;
    d.evidence.push_back("timm train.py checkpoint: 'arch' = '" + facts.arch->value + "' and an argparse 'args'");
    d.unsupported_reason = "timm architecture '" + facts.arch->value + "' is not supported; supported families: " +
                           supported_families_text();
    return d;
  }
  return std::nullopt;
}

std::vector<FamilyOption> TimmFamily::options() const {
  return {{"arch", "timm model name (required for a plain state dict; overrides the checkpoint's)"},
          {"ema", "convert the EMA weights (state_dict_ema) of a timm train.py checkpoint"},
          {"classes", "class names, one per line"},
          {"mean", "normalization mean R,G,B in 0..1 (replaces the training run's / timm's)"},
          {"std", "normalization std R,G,B in 0..1"},
          {"logits", "also output the logits"}};
}

BuiltModel TimmFamily::build(const ckpt::WeightSource& weights, const Detection& detection,
                             const ConvertContext& context) const {
  const Choices choices = parse_choices(context.options.family_options);
  const std::string file = weights.path().string();
  // The lead's convert() may hand over the root or the detected sub-tree; --ema needs the root.
  const bool narrowed = !weights.root_prefix().empty();
  const CheckpointFacts facts = read_checkpoint_facts(weights);

  NamedValue name;
  if (choices.arch) name = {*choices.arch, "--arch"};
  else if (facts.arch) name = *facts.arch;
  else
    throw InputError(file, "the checkpoint names no timm architecture: pass --arch NAME (supported families: " +
                               supported_families_text() + ")");
  const Arch arch = resolve_arch(name.value, file);

  std::string prefix = narrowed ? weights.root_prefix().substr(0, weights.root_prefix().size() - 1) : detection.prefix;
  if (choices.ema) {
    if (!facts.has_ema) throw InputError(file, "--ema: the checkpoint holds no state_dict_ema");
    if (narrowed) throw InputError(file, "--ema: the EMA weights are outside the sub-tree handed to the timm family");
    prefix = "state_dict_ema";
  }
  const ckpt::WeightSource w = narrowed ? weights : weights.within(prefix);
  const auto layout = match_layout(w);
  if (!layout || layout->family != layout_family(arch.family))
    throw InputError(file, name.value + " (" + name.from + ") is a " + family_label(arch.family) +
                               " but the weights" + (prefix.empty() ? "" : " under '" + prefix + "'") + " are " +
                               (layout ? "laid out like a " + family_label(layout->family) : "no timm classifier"));

  const Shape& stem = w.info(stem_weight(arch.family, w))->shape;
  if (stem.size() != 4 || stem[1] != 3)
    throw InputError(file, std::string(stem_weight(arch.family, w)) + " " + shape_string(stem) +
                               ": only 3-channel (RGB) inputs are supported");
  const Shape& head = w.info(head_weight(arch.family))->shape;
  if (head.size() != 2 || head[0] < 1)
    throw InputError(file, std::string(head_weight(arch.family)) + " " + shape_string(head) + " is not a classifier");

  ClassifierConfig config;
  config.arch = arch.name;
  config.arch_family = std::string(arch_family_id(arch.family));
  config.weights = prefix;
  config.num_classes = head[0];
  config.logits_output = choices.logits;
  resolve_data_config(config, arch, facts, choices.data,
                      arch.family == ArchFamily::ViT ? std::optional(vit_input_size(w)) : std::nullopt);
  if (choices.classes) {
    config.class_names = read_class_file(*choices.classes, config.num_classes);
    config.class_names_from = {"option", "--classes " + *choices.classes};
  } else if (!facts.class_names.empty()) {
    if (static_cast<std::int64_t>(facts.class_names.size()) != config.num_classes)
      throw InputError(file, "class_names lists " + std::to_string(facts.class_names.size()) + " names but " +
                                 head_weight(arch.family) + " has " + std::to_string(config.num_classes) + " classes");
    config.class_names = facts.class_names;
    config.class_names_from = {"checkpoint", "the checkpoint's class_names"};
  } else {
    config.class_names_from = {"none", "no class names in the checkpoint and no --classes: results use class indices"};
  }

  BuiltModel built;
  built.details.push_back("architecture: " + arch.name + " (" + name.from + "), " + family_label(arch.family));
  graph::Builder b("timm_" + arch.name, context.options.opset);
  const graph::Value image = b.input(kImageInput, DType::F32, {"batch", 3, config.height, config.width});
  const Feature x{normalized_input(b, image, config), 3, config.height, config.width};
  const Net net{b, w, built.details};
  const graph::Value logits = build_network(net, x, arch);
  b.output(b.softmax(logits, -1, "softmax"), kProbsOutput);
  if (choices.logits) b.output(logits, kLogitsOutput);
  w.check_all_used("timm " + std::string(arch_family_id(arch.family)));

  built.details.push_back("classes: " + std::to_string(config.num_classes) +
                          (config.class_names.empty() ? "" : " (" + config.class_names_from.source + " names)"));
  built.details.push_back("input: " + std::to_string(config.height) + "x" + std::to_string(config.width) + ", " +
                          config.interpolation + ", crop_pct " + fmt_crop(config.crop_pct));
  built.details.push_back("normalization: " + config.normalization_from.reason);
  if (!prefix.empty()) built.details.push_back("weights: " + prefix);
  if (facts.has_ema && !choices.ema) built.details.push_back("EMA weights present (state_dict_ema): convert them with --ema");
  if (facts.args.num_classes && *facts.args.num_classes != config.num_classes)
    built.details.push_back("note: args.num_classes = " + std::to_string(*facts.args.num_classes) +
                            ", the classifier weights have " + std::to_string(config.num_classes));

  built.graphs.push_back({"model", std::move(b).finish(), true, false});
  Sidecar& s = built.sidecar;
  s.family = std::string(id());
  s.variant = config.arch_family;
  GraphSpec spec;
  spec.name = "model";
  spec.inputs.push_back({kImageInput, "float32", dims({std::string("batch"), 3, config.height, config.width})});
  spec.outputs.push_back({kProbsOutput, "float32", dims({std::string("batch"), config.num_classes})});
  if (choices.logits) spec.outputs.push_back({kLogitsOutput, "float32", dims({std::string("batch"), config.num_classes})});
  s.graphs.push_back(spec);
  s.family_section = config.to_json();
  built.parameters = w.parameter_count();
  built.tensors_used = w.used_count();
  built.tensors_total = w.index().size();
  return built;
}

const ModelFamily& timm_family() {
  static const TimmFamily family;
  return family;
}

}  // namespace medport::models::timm
