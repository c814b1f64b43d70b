#include <algorithm>
#include <numeric>

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/models/iris/iris.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/yaml_json.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {
namespace {

constexpr std::int64_t kRatio = 16;  // encoder downsampling (4 stride-2 stages)
constexpr std::int64_t kMaxVolumeSide = 4096;

std::optional<int> int_key(const nlohmann::json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  if (!j[key].is_number_integer()) throw InputError(source, std::string("'") + key + "' must be an integer");
  const auto v = j[key].get<std::int64_t>();
  if (v < 1 || v > 1'000'000) throw InputError(source, std::string("'") + key + "' is out of range");
  return static_cast<int>(v);
}

Shape mha_shape_in(std::int64_t c) { return {3 * c, c}; }

void add_mha(std::vector<std::pair<std::string, Shape>>& out, const std::string& prefix, std::int64_t c) {
  out.push_back({prefix + ".in_proj_weight", mha_shape_in(c)});
  out.push_back({prefix + ".in_proj_bias", {3 * c}});
  out.push_back({prefix + ".out_proj.weight", {c, c}});
  out.push_back({prefix + ".out_proj.bias", {c}});
}

void add_block(std::vector<std::pair<std::string, Shape>>& out, const std::string& prefix, std::int64_t cin,
               std::int64_t cout, bool has_proj) {
  out.push_back({prefix + ".conv1.weight", {cout, cin, 3, 3, 3}});
  out.push_back({prefix + ".norm1.weight", {cout}});
  out.push_back({prefix + ".norm1.bias", {cout}});
  out.push_back({prefix + ".conv2.weight", {cout, cout, 3, 3, 3}});
  out.push_back({prefix + ".norm2.weight", {cout}});
  out.push_back({prefix + ".norm2.bias", {cout}});
  if (has_proj) out.push_back({prefix + ".proj.weight", {cout, cin, 1, 1, 1}});
}

const Tensor& require(const StateDict& sd, const std::string& key, const std::string& source) {
  const auto it = sd.find(key);
  if (it == sd.end()) throw InputError(source, "IRIS weights lack '" + key + "'");
  return it->second;
}

}  // namespace

IrisChoices choices_from_json(const nlohmann::json& root, const std::string& source, bool strict) {
  if (!root.is_object()) throw InputError(source, "IRIS configuration must be a mapping of keys to values");
  static const std::vector<std::string> model_keys{"in_channels",         "base_channels",   "num_query_tokens",
                                                   "num_attention_heads", "volume_shape",    "use_memory_bank",
                                                   "memory_momentum",     "checkpoint",      "device"};
  static const std::vector<std::string> guide_blocks{"model", "inference", "device", "output", "quality_assurance"};
  auto check_keys = [&](const nlohmann::json& object, const std::vector<std::string>& known, const std::string& prefix) {
    if (!strict) return;
    for (const auto& [key, value] : object.items())
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        throw InputError(source, "'" + prefix + key + "': unknown key (known here: " + list + ")");
      }
  };
  const bool nested = root.contains("model") && root["model"].is_object();
  if (nested) check_keys(root, guide_blocks, "");
  const nlohmann::json& j = nested ? root["model"] : root;
  check_keys(j, model_keys, nested ? "model." : "");
  IrisChoices c;
  c.num_attention_heads = int_key(j, "num_attention_heads", source);
  c.base_channels = int_key(j, "base_channels", source);
  c.num_query_tokens = int_key(j, "num_query_tokens", source);
  c.in_channels = int_key(j, "in_channels", source);
  if (j.contains("volume_shape") && !j["volume_shape"].is_null()) {
    const auto& v = j["volume_shape"];
    if (!v.is_array() || v.size() != 3) throw InputError(source, "'volume_shape' must be a list of 3 integers");
    std::vector<std::int64_t> shape;
    for (const auto& e : v) {
      if (!e.is_number_integer()) throw InputError(source, "'volume_shape' must be a list of 3 integers");
      shape.push_back(e.get<std::int64_t>());
    }
    c.volume_shape = shape;
  }
  if (j.contains("memory_momentum") && j["memory_momentum"].is_number()) {
    c.memory_momentum = j["memory_momentum"].get<double>();
    if (!(*c.memory_momentum >= 0.0 && *c.memory_momentum < 1.0))
      throw InputError(source, "'memory_momentum' must lie in [0, 1)");
  }
  return c;
}

IrisChoices merge_choices(const IrisChoices& primary, const IrisChoices& fallback) {
  IrisChoices c = primary;
  if (!c.num_attention_heads) c.num_attention_heads = fallback.num_attention_heads;
  if (!c.volume_shape) c.volume_shape = fallback.volume_shape;
  if (!c.base_channels) c.base_channels = fallback.base_channels;
  if (!c.num_query_tokens) c.num_query_tokens = fallback.num_query_tokens;
  if (!c.in_channels) c.in_channels = fallback.in_channels;
  if (!c.memory_momentum) c.memory_momentum = fallback.memory_momentum;
  return c;
}

IrisChoices read_iris_choices(const std::filesystem::path& config_file) {
  const std::string source = config_file.string();
  const auto bytes = read_file(config_file, std::size_t{1} << 20);
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto ext = config_file.extension().string();
  nlohmann::json j;
  if (ext == ".yaml" || ext == ".yml") {
    j = yaml_to_json(text, source);
  } else {
    j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) throw InputError(source, "not valid JSON");
  }
  return choices_from_json(j, source, true);
}

std::vector<std::pair<std::string, Shape>> expected_parameters(const IrisConfig& c) {
  std::vector<std::pair<std::string, Shape>> out;
  const std::int64_t C = c.embed_dim();
  add_block(out, "encoder.stem", c.in_channels, c.channels(0), c.in_channels != c.channels(0));
  for (int i = 0; i < 4; ++i)
    add_block(out, "encoder.down_blocks." + std::to_string(i), c.channels(i), c.channels(i + 1), true);
  const std::int64_t r3 = kRatio * kRatio * kRatio;
  const std::int64_t cc = c.context_channels;
  out.push_back({"task_encoder.query_tokens", {1, c.num_query_tokens, C}});
  out.push_back({"task_encoder.pre_shuffle.weight", {cc * r3, C, 1, 1, 1}});
  out.push_back({"task_encoder.context_conv.weight", {cc, cc + 1, 1, 1, 1}});
  out.push_back({"task_encoder.context_conv.bias", {cc}});
  out.push_back({"task_encoder.post_unshuffle.weight", {C, cc * r3, 1, 1, 1}});
  add_mha(out, "task_encoder.cross_attn", C);
  add_mha(out, "task_encoder.self_attn", C);
  for (const char* m : {"features_to_tokens", "tokens_to_features", "token_self_attn"})
    add_mha(out, std::string("mask_decoder.cross_attention.") + m, C);
  for (int i = 0; i < 4; ++i) {
    const std::string p = "mask_decoder.decoder_stages." + std::to_string(i);
    const std::int64_t cin = c.channels(4 - i), cout = c.channels(3 - i);
    out.push_back({p + ".up.weight", {cin, cout, 2, 2, 2}});
    out.push_back({p + ".up.bias", {cout}});
    add_block(out, p + ".fuse", 2 * cout, cout, true);
    const std::string f = "mask_decoder.modulators." + std::to_string(i) + ".linear";
    out.push_back({f + ".weight", {2 * cout, C}});
    out.push_back({f + ".bias", {2 * cout}});
  }
  out.push_back({"mask_decoder.final_conv.weight", {1, c.channels(0), 1, 1, 1}});
  out.push_back({"mask_decoder.final_conv.bias", {1}});
  return out;
}

std::vector<std::string> iris_parameter_names(const IrisConfig& config) {
  std::vector<std::string> names;
  for (const auto& [name, shape] : expected_parameters(config)) names.push_back(name);
  return names;
}

IrisConfig infer_iris_config(const StateDict& sd, const IrisChoices& choices, const std::string& source) {
  const Tensor& stem = require(sd, "encoder.stem.conv1.weight", source);
  const Tensor& tokens = require(sd, "task_encoder.query_tokens", source);
  if (stem.ndim() != 5 || tokens.ndim() != 3 || tokens.shape()[0] != 1)
    throw InputError(source, "IRIS weights have unexpected ranks (encoder.stem.conv1.weight " +
                                 shape_string(stem.shape()) + ", task_encoder.query_tokens " +
                                 shape_string(tokens.shape()) + ")");
  IrisConfig c;
  if (stem.shape()[0] < 1 || stem.shape()[0] > 4096 || stem.shape()[1] < 1 || stem.shape()[1] > 4096 ||
      tokens.shape()[1] < 1 || tokens.shape()[1] > 4096)
    throw InputError(source, "IRIS weights have implausible sizes");
  c.base_channels = static_cast<int>(stem.shape()[0]);
  c.in_channels = static_cast<int>(stem.shape()[1]);
  c.num_query_tokens = static_cast<int>(tokens.shape()[1]);
  auto check_choice = [&](const std::optional<int>& chosen, int actual, const char* key) {
    if (chosen && *chosen != actual)
      throw InputError(source, std::string("configuration says ") + key + " = " + std::to_string(*chosen) +
                                   " but the weights have " + std::to_string(actual));
  };
  check_choice(choices.base_channels, c.base_channels, "base_channels");
  check_choice(choices.in_channels, c.in_channels, "in_channels");
  check_choice(choices.num_query_tokens, c.num_query_tokens, "num_query_tokens");
  const std::int64_t C = c.embed_dim();
  if (tokens.shape()[2] != C)
    throw InputError(source, "task_encoder.query_tokens has width " + std::to_string(tokens.shape()[2]) +
                                 ", expected 16 x base_channels = " + std::to_string(C));
  c.num_attention_heads = choices.num_attention_heads.value_or(8);
  c.attention_heads = C % c.num_attention_heads == 0
                          ? c.num_attention_heads
                          : std::max<int>(1, static_cast<int>(std::gcd<std::int64_t>(C, c.num_attention_heads)));
  c.context_channels = static_cast<int>((C + kRatio * kRatio * kRatio - 1) / (kRatio * kRatio * kRatio));
  if (!choices.volume_shape)
    throw UsageError(source + ": the checkpoint does not record the volume it was trained on; give it with --config "
                              "(volume_shape: [D, H, W], or model.volume_shape in the IRIS guide's configuration)");
  c.volume_shape = *choices.volume_shape;
  if (c.volume_shape.size() != 3) throw InputError(source, "volume_shape must have 3 sizes");
  for (auto s : c.volume_shape)
    if (s < kRatio || s > kMaxVolumeSide || s % kRatio != 0)
      throw InputError(source, "volume_shape sizes must be multiples of 16 between 16 and 4096, got " +
                                   shape_string(c.volume_shape));
  c.memory_momentum = choices.memory_momentum.value_or(0.999);

  for (const auto& [name, shape] : expected_parameters(c)) {
    const Tensor& t = require(sd, name, source);
    if (t.shape() != shape)
      throw InputError(source, "'" + name + "' has shape " + shape_string(t.shape()) + ", expected " +
                                   shape_string(shape));
    if (!dtype_is_floating(t.dtype())) throw InputError(source, "'" + name + "' is not a floating-point tensor");
  }
  return c;
}

}  // namespace medport::models::iris
