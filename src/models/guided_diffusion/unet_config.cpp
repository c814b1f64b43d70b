#include <algorithm>
#include <set>

#include "medport/error.hpp"
#include "medport/models/guided_diffusion/unet.hpp"
#include "unet_layout.hpp"

namespace medport::models::guided_diffusion {
namespace {

class KeyReader {
 public:
  KeyReader(const StateDict& sd, const std::string& source) : sd_(sd), source_(source) {}
  bool has(const std::string& key) const { return sd_.count(key) != 0; }
  const Shape& shape(const std::string& key) const {
    const auto it = sd_.find(key);
    if (it == sd_.end()) fail("missing tensor '" + key + "'");
    return it->second.shape();
  }
  std::int64_t dim(const std::string& key, std::size_t axis) const {
    const Shape& s = shape(key);
    if (s.size() <= axis) fail("tensor '" + key + "' has shape " + shape_string(s));
    return s[axis];
  }
  // Largest N + 1 over keys "<group>.N.*" (0 when there are none).
  std::size_t count_blocks(const std::string& group) const {
    std::size_t count = 0;
    const std::string prefix = group + ".";
    for (auto it = sd_.lower_bound(prefix); it != sd_.end() && it->first.starts_with(prefix); ++it) {
      const std::string rest = it->first.substr(prefix.size());
      const std::size_t dot = rest.find('.');
      const std::string number = rest.substr(0, dot);
      if (number.empty() || number.size() > 6 || !std::all_of(number.begin(), number.end(), ::isdigit)) continue;
      count = std::max(count, static_cast<std::size_t>(std::stoul(number)) + 1);
    }
    return count;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(source_, "not a guided-diffusion UNet state dict: " + what);
  }

 private:
  const StateDict& sd_;
  const std::string& source_;
};

std::string output_layer(std::size_t block, std::size_t layer) {
  return "output_blocks." + std::to_string(block) + "." + std::to_string(layer);
}

void check_against_expected(const UNetConfig& config, const StateDict& sd, const std::string& source) {
  std::vector<std::string> problems;
  std::set<std::string> expected_keys;
  for (const auto& e : detail::expected_tensors(config)) {
    expected_keys.insert(e.key);
    const auto it = sd.find(e.key);
    if (it == sd.end()) {
      problems.push_back("missing '" + e.key + "'");
    } else if (it->second.shape() != e.shape) {
      problems.push_back("'" + e.key + "' has shape " + shape_string(it->second.shape()) + ", expected " +
                         shape_string(e.shape));
    } else if (!dtype_is_floating(it->second.dtype())) {
      problems.push_back("'" + e.key + "' is not floating point");
    }
  }
  for (const auto& [key, tensor] : sd) {
    if (!expected_keys.count(key)) problems.push_back("unexpected '" + key + "'");
  }
  if (problems.empty()) return;
  std::string message = "state dict does not match the inferred UNet (" + config.describe() + "): ";
  for (std::size_t i = 0; i < problems.size() && i < 8; ++i) message += (i ? "; " : "") + problems[i];
  if (problems.size() > 8) message += "; and " + std::to_string(problems.size() - 8) + " more";
  throw InputError(source, message);
}

}  // namespace

AttentionOrder parse_attention_order(const std::string& name) {
  if (name == "legacy") return AttentionOrder::Legacy;
  if (name == "new") return AttentionOrder::New;
  throw UsageError("unknown attention order '" + name + "' (expected legacy or new)");
}

std::int64_t UNetConfig::heads_for(std::int64_t channels) const {
  if (choices.num_head_channels == -1) {
    if (choices.num_heads < 1 || channels % choices.num_heads != 0) {
      throw UsageError(std::to_string(choices.num_heads) + " attention heads do not divide " +
                       std::to_string(channels) + " channels");
    }
    return choices.num_heads;
  }
  if (choices.num_head_channels < 1 || channels % choices.num_head_channels != 0) {
    throw UsageError("attention head width " + std::to_string(choices.num_head_channels) + " does not divide " +
                     std::to_string(channels) + " channels");
  }
  return channels / choices.num_head_channels;
}

std::string UNetConfig::describe() const {
  std::string widths, attention;
  for (std::size_t l = 0; l < levels(); ++l) {
    widths += (l ? "," : "") + std::to_string(level_channels[l]);
    if (level_attention[l]) attention += (attention.empty() ? "" : ",") + std::to_string(std::int64_t{1} << l);
  }
  return "model channels " + std::to_string(model_channels) + ", widths " + widths + ", " +
         std::to_string(num_res_blocks) + " res blocks, attention at ds " + (attention.empty() ? "-" : attention) +
         ", in " + std::to_string(in_channels) + ", out " + std::to_string(out_channels) +
         (learn_sigma() ? " (learned sigma)" : "") + (scale_shift_norm ? ", scale-shift norm" : "") +
         (resblock_updown ? ", resblock up/down" : "") +
         (num_classes ? ", " + std::to_string(num_classes) + " classes" : "");
}

UNetConfig infer_unet_config(const StateDict& sd, const UNetChoices& choices, const std::string& source) {
  const KeyReader keys(sd, source);
  UNetConfig c;
  c.choices = choices;
  c.model_channels = keys.dim("time_embed.0.weight", 1);
  c.time_embed_dim = keys.dim("time_embed.0.weight", 0);
  c.in_channels = keys.dim("input_blocks.0.0.weight", 1);
  c.out_channels = keys.dim("out.2.weight", 0);
  if (c.model_channels < 2 || c.model_channels % 2 != 0) keys.fail("odd model channel count");
  if (keys.has("label_emb.weight")) c.num_classes = keys.dim("label_emb.weight", 0);

  const std::size_t outputs = keys.count_blocks("output_blocks");
  if (outputs == 0) keys.fail("no output_blocks");
  if (outputs > 1000) keys.fail("implausibly many output_blocks (" + std::to_string(outputs) + ")");
  // The first output block ending in an upsampler closes the deepest level: its index is
  // num_res_blocks. An upsampler is a layer after position 0 with a `.conv` or a ResBlock.
  std::optional<std::size_t> first_up;
  for (std::size_t j = 0; j < outputs && !first_up; ++j) {
    for (std::size_t layer = 1; layer <= 2; ++layer) {
      const std::string p = output_layer(j, layer);
      if (keys.has(p + ".conv.weight") || keys.has(p + ".in_layers.0.weight")) {
        first_up = j;
        c.resblock_updown = keys.has(p + ".in_layers.0.weight");
        break;
      }
    }
  }
  c.num_res_blocks = static_cast<std::int64_t>(first_up ? *first_up : outputs - 1);
  const auto per_level = static_cast<std::size_t>(c.num_res_blocks + 1);
  if (outputs % per_level != 0) keys.fail("output block count does not split into levels");
  const std::size_t levels = outputs / per_level;
  if (levels > 12) keys.fail("too many levels");
  c.level_channels.assign(levels, 0);
  c.level_attention.assign(levels, false);
  for (std::size_t level = 0; level < levels; ++level) {
    const std::size_t first_block = (levels - 1 - level) * per_level;  // output side runs deepest first
    c.level_channels[level] = keys.dim(output_layer(first_block, 0) + ".out_layers.3.weight", 0);
    c.level_attention[level] = keys.has(output_layer(first_block, 1) + ".qkv.weight");
  }
  const std::int64_t emb_rows = keys.dim(output_layer(0, 0) + ".emb_layers.1.weight", 0);
  c.scale_shift_norm = emb_rows == 2 * c.level_channels.back();
  if (!c.scale_shift_norm && emb_rows != c.level_channels.back()) keys.fail("unexpected emb_layers width");
  for (std::size_t level = 0; level < levels; ++level) {
    if (c.level_channels[level] < 1 || c.level_channels[level] % 32 != 0) {
      keys.fail("level width " + std::to_string(c.level_channels[level]) + " is not a multiple of 32 (GroupNorm32)");
    }
  }
  check_against_expected(c, sd, source);
  // Head counts must work for every attention width.
  for (std::size_t level = 0; level < levels; ++level) {
    if (c.level_attention[level]) c.heads_for(c.level_channels[level]);
  }
  c.heads_for(c.level_channels.back());
  return c;
}

std::int64_t count_parameters(const StateDict& state_dict) {
  std::int64_t total = 0;
  for (const auto& [key, tensor] : state_dict) total += tensor.numel();
  return total;
}

}  // namespace medport::models::guided_diffusion
