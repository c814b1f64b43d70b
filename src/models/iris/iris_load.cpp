#include <charconv>

#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/checkpoint/value_json.hpp"
#include "medport/error.hpp"
#include "medport/models/iris/iris.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {
namespace {

struct Layout {
  const char* name;
  const char* prefix;
};
constexpr Layout kLayouts[] = {
    {"state_dict", ""}, {"model_state", "model_state."}, {"model_state_dict", "model_state_dict."}};

std::optional<std::int64_t> class_id(std::string_view text) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

LoadedIris load_iris(const std::filesystem::path& checkpoint, const IrisChoices& choices) {
  const std::string source = checkpoint.string();
  const ckpt::TorchCheckpoint ckpt = ckpt::load_torch_checkpoint(checkpoint);
  LoadedIris out;
  out.checkpoint = checkpoint;
  out.tensors_total = ckpt.tensors.size();
  const Layout* layout = nullptr;
  for (const auto& l : kLayouts)
    if (ckpt.find(std::string(l.prefix) + "task_encoder.query_tokens")) {
      layout = &l;
      break;
    }
  if (!layout)
    throw InputError(source, "no IRIS weights found (expected task_encoder.query_tokens at the top level, under "
                             "'model_state' or under 'model_state_dict')");
  out.layout = layout->name;
  const std::string prefix = layout->prefix;
  for (const auto& e : ckpt.tensors) {
    if (!e.path.starts_with(prefix)) continue;
    const std::string key = e.path.substr(prefix.size());
    if (key.starts_with("encoder.") || key.starts_with("task_encoder.") || key.starts_with("mask_decoder."))
      out.state_dict.emplace(key, e.tensor);
  }
  IrisChoices stored;  // the training dict's own `config`, used for what the caller left open
  if (ckpt.root && ckpt.root->is(ckpt::ValueKind::Dict)) {
    if (const auto cfg = ckpt.root->get("config"); cfg && cfg->is(ckpt::ValueKind::Dict))
      stored = choices_from_json(nlohmann::json(ckpt::value_to_json(*cfg)), source + " (config)");
    for (const auto& e : ckpt.tensors) {
      if (!e.path.starts_with("memory_bank.")) continue;
      const auto id = class_id(std::string_view(e.path).substr(12));
      if (!id) continue;
      out.memory_bank.emplace(*id, e.tensor);
    }
  }
  out.config = infer_iris_config(out.state_dict, merge_choices(choices, stored), source);
  const std::int64_t C = out.config.embed_dim(), M = out.config.num_query_tokens + 1;
  for (const auto& [id, t] : out.memory_bank)
    if (t.shape() != Shape{M, C})
      throw InputError(source, "memory_bank entry " + std::to_string(id) + " has shape " + shape_string(t.shape()) +
                                   ", expected " + shape_string({M, C}));
  return out;
}

}  // namespace medport::models::iris
