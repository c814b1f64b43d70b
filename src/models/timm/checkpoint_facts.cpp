#include "models/timm/checkpoint_facts.hpp"

#include <nlohmann/json.hpp>

#include "medport/error.hpp"

namespace medport::models::timm {
namespace {

using ckpt::Value;
using ckpt::ValueKind;
using ckpt::ValuePtr;

// An argparse.Namespace's attributes (its BUILD state), or a plain dict as is.
ValuePtr attributes_of(const ValuePtr& v) {
  if (!v) return nullptr;
  if (v->is(ValueKind::Dict)) return v;
  if (v->is(ValueKind::Object)) {
    const auto& state = v->object_data().state;
    if (state && state->is(ValueKind::Dict)) return state;
  }
  return nullptr;
}

ValuePtr present(const ValuePtr& dict, std::string_view key) {
  if (!dict) return nullptr;
  ValuePtr v = dict->get(key);
  return v && !v->is_none() ? v : nullptr;
}

bool is_number(const Value& v) {
  return v.is(ValueKind::Int) || v.is(ValueKind::Float) || v.is(ValueKind::NumpyScalar);
}

std::optional<std::array<double, 3>> channel_triple(const ValuePtr& v, const std::string& what, const std::string& file) {
  if (!v) return std::nullopt;
  std::vector<double> values;
  if (is_number(*v)) {
    values.push_back(v->as_float());
  } else if (v->is(ValueKind::List) || v->is(ValueKind::Tuple)) {
    for (const auto& e : v->items()) {
      if (!e || !is_number(*e)) throw InputError(file, what + " holds a non-number: " + v->repr());
      values.push_back(e->as_float());
    }
  } else {
    throw InputError(file, what + " is not a list of numbers: " + v->repr());
  }
  if (values.size() == 1) return std::array<double, 3>{values[0], values[0], values[0]};
  if (values.size() != 3) throw InputError(file, what + " must hold 1 or 3 values, got " + v->repr());
  return std::array<double, 3>{values[0], values[1], values[2]};
}

std::optional<std::string> text(const ValuePtr& v) {
  if (!v || !v->is(ValueKind::Str) || v->as_str().empty()) return std::nullopt;
  return v->as_str();
}

TrainingArgs read_args(const ValuePtr& attrs, const std::string& file) {
  TrainingArgs a;
  a.mean = channel_triple(present(attrs, "mean"), "args.mean", file);
  a.std = channel_triple(present(attrs, "std"), "args.std", file);
  if (auto size = present(attrs, "input_size")) {
    if ((size->is(ValueKind::List) || size->is(ValueKind::Tuple)) && size->size() == 3)
      a.input_size = std::pair{size->items()[1]->as_int(), size->items()[2]->as_int()};
    else
      throw InputError(file, "args.input_size must be [C, H, W], got " + size->repr());
  } else if (auto img = present(attrs, "img_size"); img && img->is(ValueKind::Int)) {
    a.input_size = std::pair{img->as_int(), img->as_int()};
  }
  a.interpolation = text(present(attrs, "interpolation"));
  if (auto crop = present(attrs, "crop_pct"); crop && is_number(*crop)) a.crop_pct = crop->as_float();
  a.crop_mode = text(present(attrs, "crop_mode"));
  if (auto n = present(attrs, "num_classes"); n && n->is(ValueKind::Int)) a.num_classes = n->as_int();
  return a;
}

std::vector<std::string> string_list(const ValuePtr& v, const std::string& file) {
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is(ValueKind::Str)) {  // safetensors metadata: a JSON list in a string
    const auto parsed = nlohmann::json::parse(v->as_str(), nullptr, false);
    if (!parsed.is_array()) throw InputError(file, "metadata class_names is not a JSON list");
    for (const auto& e : parsed) {
      if (!e.is_string()) throw InputError(file, "metadata class_names holds a non-string");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  if (!v->is(ValueKind::List) && !v->is(ValueKind::Tuple))
    throw InputError(file, "class_names is not a list: " + v->repr());
  for (const auto& e : v->items()) {
    if (!e || !e->is(ValueKind::Str)) throw InputError(file, "class_names holds a non-string: " + v->repr());
    out.push_back(e->as_str());
  }
  return out;
}

bool has_tensors_under(const ckpt::WeightSource& root, const std::string& prefix) {
  const std::string head = prefix + ".";
  for (const auto& t : root.index())
    if (t.name.starts_with(head)) return true;
  return false;
}

std::string shape_of(const ckpt::WeightSource& v, const std::string& name) {
  const auto* info = v.info(name);
  return info ? name + " " + shape_string(info->shape) : name;
}

}  // namespace

const std::vector<std::string>& weight_prefixes() {
  static const std::vector<std::string> p{"state_dict", "model", "model_state_dict", "state_dict_ema", "model_ema", ""};
  return p;
}

CheckpointFacts read_checkpoint_facts(const ckpt::WeightSource& root) {
  CheckpointFacts f;
  const std::string file = root.path().string();
  const ValuePtr meta = root.metadata();
  const ValuePtr top = meta && meta->is(ValueKind::Dict) ? meta : nullptr;
  const ValuePtr args = attributes_of(present(top, "args"));
  if (args) {
    f.has_training_args = true;
    f.args = read_args(args, file);
  }
  const std::pair<ValuePtr, std::string> candidates[] = {
      {present(top, "arch"), "the checkpoint's 'arch'"},
      {present(args, "model"), "the training args' 'model'"},
      {present(top, "model_name"), "the checkpoint's 'model_name'"},
      {present(top, "architecture"), "the checkpoint's 'architecture'"},
  };
  for (const auto& [v, from] : candidates)
    if (auto name = text(v)) {
      f.arch = NamedValue{*name, from};
      break;
    }
  f.class_names = string_list(present(top, "class_names"), file);
  f.has_ema = has_tensors_under(root, "state_dict_ema");
  return f;
}

std::optional<LayoutMatch> match_layout(const ckpt::WeightSource& v) {
  if (v.contains("fc.weight") && (v.contains("conv1.weight") || v.contains("conv1.0.weight")) &&
      v.contains("layer1.0.conv1.weight"))
    return LayoutMatch{ArchFamily::ResNet,
                       {shape_of(v, v.contains("conv1.weight") ? "conv1.weight" : "conv1.0.weight") + " (stem)",
                        "layer1.* residual stages", shape_of(v, "fc.weight") + " (classifier)"}};
  if (v.contains("conv_stem.weight") && v.contains("classifier.weight") &&
      (v.contains("blocks.0.0.conv_dw.weight") || v.contains("blocks.0.0.conv.weight")))
    return LayoutMatch{ArchFamily::EfficientNet,
                       {shape_of(v, "conv_stem.weight") + " (stem)", "blocks.S.B.* (EfficientNet builder blocks)",
                        shape_of(v, "classifier.weight") + " (classifier)"}};
  if (v.contains("stem.0.weight") && v.contains("stages.0.blocks.0.conv_dw.weight") && v.contains("head.fc.weight"))
    return LayoutMatch{ArchFamily::ConvNeXt,
                       {shape_of(v, "stem.0.weight") + " (stem)", "stages.*.blocks.*.conv_dw (ConvNeXt blocks)",
                        shape_of(v, "head.fc.weight") + " (classifier)"}};
  if (v.contains("patch_embed.proj.weight") && v.contains("blocks.0.attn.qkv.weight") && v.contains("head.weight"))
    return LayoutMatch{ArchFamily::ViT,
                       {shape_of(v, "patch_embed.proj.weight") + " (patch embedding)",
                        shape_of(v, "pos_embed") + " (position embeddings)", "blocks.*.attn.qkv (transformer blocks)",
                        shape_of(v, "head.weight") + " (classifier)"}};
  return std::nullopt;
}

}  // namespace medport::models::timm
