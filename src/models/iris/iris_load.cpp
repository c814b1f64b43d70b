#include <charconv>

#include "medport/checkpoint/value_json.hpp"
#include "medport/error.hpp"
#include "medport/models/iris/family.hpp"
#include "medport/models/iris/iris.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {
namespace {

std::optional<std::int64_t> class_id(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

LoadedIris load_iris(const std::filesystem::path& checkpoint, const IrisChoices& choices) {
  return load_iris(ckpt::WeightSource::open(checkpoint), choices);
}

LoadedIris load_iris(const ckpt::WeightSource& file, const IrisChoices& choices) {
  const std::string source = file.path().string();
  LoadedIris out;
  out.checkpoint = file.path();
  out.tensors_total = file.index().size();
  const auto detection = family().detect(file);
  if (!detection)
    throw InputError(source, "no IRIS weights found (expected task_encoder.query_tokens with encoder.* and "
                             "mask_decoder.* at the top level or under 'model_state', 'model_state_dict', "
                             "'state_dict', ...)");
  out.layout = detection->prefix.empty() ? "state_dict" : detection->prefix;
  const ckpt::WeightSource network = file.within(detection->prefix);
  for (const auto& w : network.index()) {
    if (w.name.starts_with("encoder.") || w.name.starts_with("task_encoder.") || w.name.starts_with("mask_decoder."))
      out.state_dict.emplace(w.name, network.require(w.name));
  }
  IrisChoices stored;  // the training dict's own `config`, used for what the caller left open
  const ckpt::ValuePtr root = file.metadata();
  if (root && root->is(ckpt::ValueKind::Dict)) {
    if (const auto cfg = root->get("config"); cfg && cfg->is(ckpt::ValueKind::Dict))
      stored = choices_from_json(nlohmann::json(ckpt::value_to_json(*cfg)), source + " (config)");
  }
  const ckpt::WeightSource bank = file.within("memory_bank");
  for (const auto& w : bank.index()) {
    const auto id = class_id(w.name);
    if (!id) continue;
    out.memory_bank.emplace(*id, bank.require(w.name));
  }
  IrisChoices merged = merge_choices(choices, stored);
  // The volume the network was trained on: the checkpoint's own config is the truth.
  if (stored.volume_shape) {
    if (choices.volume_shape && *choices.volume_shape != *stored.volume_shape)
      throw InputError(source, "the configuration's volume_shape " + shape_string(*choices.volume_shape) +
                                   " contradicts the checkpoint's own config (" + shape_string(*stored.volume_shape) + ")");
    merged.volume_shape = stored.volume_shape;
  }
  out.config = infer_iris_config(out.state_dict, merged, source);
  const std::int64_t C = out.config.embed_dim(), M = out.config.num_query_tokens + 1;
  for (const auto& [id, t] : out.memory_bank)
    if (t.shape() != Shape{M, C})
      throw InputError(source, "memory_bank entry " + std::to_string(id) + " has shape " + shape_string(t.shape()) +
                                   ", expected " + shape_string({M, C}));
  return out;
}

}  // namespace medport::models::iris
