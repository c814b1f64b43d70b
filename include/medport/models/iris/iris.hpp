#pragma once
// IRIS few-shot 3D segmenter (the unofficial Nachiket1234/IRIS IrisModel) -> two ONNX graphs:
//   encode_support.onnx: support_image (B,1,D,H,W), support_masks (B,K,D,H,W) -> task_embeddings (B,K,m+1,C)
//   forward.onnx:        query_image (B,1,D,H,W), task_embeddings (B,K,m+1,C) -> logits (B,K,D,H,W)
// B and K are dynamic; D,H,W are the configured volume_shape (multiples of 16).
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/graph/ir.hpp"
#include "medport/checkpoint/weight_source.hpp"
#include "medport/tensor.hpp"

namespace medport::models::iris {

using StateDict = std::map<std::string, Tensor>;

inline constexpr const char* kSupportImage = "support_image";
inline constexpr const char* kSupportMasks = "support_masks";
inline constexpr const char* kQueryImage = "query_image";
inline constexpr const char* kTaskEmbeddings = "task_embeddings";
inline constexpr const char* kLogits = "logits";

// Choices the weights cannot tell (keys as in the upstream config.json).
struct IrisChoices {
  std::optional<int> num_attention_heads;            // default 8
  // The checkpoint's own config first, else the given config; neither: convert stops and asks.
  std::optional<std::vector<std::int64_t>> volume_shape;
  std::optional<int> base_channels;                   // checked against the weights when given
  std::optional<int> num_query_tokens;                // checked against the weights when given
  std::optional<int> in_channels;                     // checked against the weights when given
  std::optional<double> memory_momentum;            // default 0.999
};

// Reads a config.json / .yaml / .yml file: the upstream config.json's flat keys (in_channels,
// base_channels, num_query_tokens, num_attention_heads, volume_shape, use_memory_bank,
// memory_momentum) or the IRIS inference guide's nested configuration, whose `model:` block holds
// them (its `inference:`, `device:`, `output:` and `quality_assurance:` blocks are fewshot's and
// are left to it). An unknown key is an InputError naming it.
IrisChoices read_iris_choices(const std::filesystem::path& config_file);

struct IrisConfig {
  int in_channels = 1;
  int base_channels = 32;
  int num_query_tokens = 8;
  int num_attention_heads = 8;  // as requested
  int attention_heads = 8;      // effective (gcd-adjusted when C % heads != 0, as upstream)
  int context_channels = 1;     // ceil(C / 16^3)
  std::vector<std::int64_t> volume_shape{128, 128, 128};
  double memory_momentum = 0.999;

  std::int64_t channels(int level) const { return std::int64_t{base_channels} << level; }  // level 0..4
  std::int64_t embed_dim() const { return channels(4); }
};

// Hyperparameters from the weights (base width, tokens, input channels) plus the choices;
// checks every expected tensor's shape. Throws InputError naming `source`.
IrisConfig infer_iris_config(const StateDict& state_dict, const IrisChoices& choices, const std::string& source);
// Tensor names the two graphs read (every one of them must be in the state dict).
std::vector<std::string> iris_parameter_names(const IrisConfig& config);

struct LoadedIris {
  std::filesystem::path checkpoint;
  std::string layout;  // where the weights were: "state_dict" (top level), "model_state", "model_state_dict", ...
  StateDict state_dict;
  std::size_t tensors_total = 0;                           // tensors in the whole file
  std::map<std::int64_t, Tensor> memory_bank;              // class id -> (m+1, C), training dicts only
  IrisConfig config;
};

// Plain state_dict, {"model_state": ..., "memory_bank": ...}, {"model_state_dict": ...} or
// {"state_dict": ...}, keys optionally with DataParallel's "module." prefix.
LoadedIris load_iris(const std::filesystem::path& checkpoint, const IrisChoices& choices = {});
LoadedIris load_iris(const ckpt::WeightSource& file, const IrisChoices& choices = {});

graph::Graph build_encode_support_graph(const IrisConfig& config, const StateDict& state_dict, int opset = 17);
graph::Graph build_forward_graph(const IrisConfig& config, const StateDict& state_dict, int opset = 17);

// The "iris" sidecar section (architecture, volume shape, memory bank facts).
nlohmann::ordered_json sidecar_section(const LoadedIris& iris);

}  // namespace medport::models::iris
