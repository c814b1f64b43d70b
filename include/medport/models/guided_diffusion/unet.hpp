#pragma once
// openai/guided-diffusion UNetModel (as used by RePaint and EchoGAINS) from a plain state_dict
// to a graph::Graph: inputs "x" [N, C_in, H, W] float32 and "t" [N] int64 (timesteps of the
// original process), plus "y" [N] int64 for class-conditional models; output "out"
// [N, C_out, H, W]. Batch and spatial size are dynamic (H and W must be multiples of
// 2^(levels-1)). GroupNorm runs in float32 (decomposed), attention as MatMul + Softmax, the
// sinusoidal timestep embedding inside the graph.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "medport/graph/ir.hpp"
#include "medport/tensor.hpp"

namespace medport::models::guided_diffusion {

inline constexpr const char* kInputX = "x";
inline constexpr const char* kInputT = "t";
inline constexpr const char* kInputY = "y";
inline constexpr const char* kOutput = "out";

enum class AttentionOrder {
  Legacy,  // QKVAttentionLegacy: each head owns a contiguous [q|k|v] block of qkv rows
  New,     // QKVAttention: q, k, v thirds first, then heads
};
AttentionOrder parse_attention_order(const std::string& name);  // "legacy" | "new"; UsageError

// What the weights cannot tell; defaults are EchoGAINS' (num_head_channels 1, legacy order).
struct UNetChoices {
  std::int64_t num_head_channels = 1;  // -1: use num_heads
  std::int64_t num_heads = 4;
  AttentionOrder attention_order = AttentionOrder::Legacy;
  std::int64_t image_size = 0;         // recorded as metadata only (0: unknown)
};

// Everything about the architecture, inferred from the state_dict keys and shapes.
struct UNetConfig {
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t model_channels = 0;
  std::int64_t time_embed_dim = 0;
  std::int64_t num_res_blocks = 0;
  std::vector<std::int64_t> level_channels;  // res-block width per level (channel_mult * model_channels)
  std::vector<bool> level_attention;         // attention blocks at this level
  bool scale_shift_norm = false;
  bool resblock_updown = false;
  std::int64_t num_classes = 0;  // class embedding rows (0: unconditional)
  UNetChoices choices;

  std::size_t levels() const { return level_channels.size(); }
  bool learn_sigma() const { return out_channels == 2 * in_channels; }
  std::int64_t spatial_multiple() const { return std::int64_t{1} << (levels() - 1); }
  // Heads of an attention block over `channels` (throws UsageError when they do not divide).
  std::int64_t heads_for(std::int64_t channels) const;
  std::string describe() const;  // one line: "mc 64, mult 1,1,2,2,4,4, 3 res blocks, ..."
};

using StateDict = std::map<std::string, Tensor>;

// Infers the configuration and checks that the state dict holds exactly the tensors that
// architecture has, with the right shapes (InputError naming `source` otherwise).
UNetConfig infer_unet_config(const StateDict& state_dict, const UNetChoices& choices, const std::string& source);

struct UNetGraphOptions {
  int opset = 17;
};

graph::Graph build_unet_graph(const UNetConfig& config, const StateDict& state_dict,
                              const UNetGraphOptions& options = {});

// Parameter count: elements of every tensor in the state dict.
std::int64_t count_parameters(const StateDict& state_dict);

}  // namespace medport::models::guided_diffusion
