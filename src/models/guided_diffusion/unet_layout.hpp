#pragma once
// The module tree of a guided-diffusion UNet for a config: which layer sits where, with which
// widths. Both the weight check and the graph builder walk this one description.
#include <cstdint>
#include <string>
#include <vector>

#include "medport/models/guided_diffusion/unet.hpp"

namespace medport::models::guided_diffusion::detail {

enum class LayerKind { Stem, Res, Attention, DownConv, UpConv };
enum class Resample { None, Up, Down };

struct LayerSpec {
  LayerKind kind = LayerKind::Res;
  std::string prefix;  // "input_blocks.3.1" (keys are prefix + ".qkv.weight", ...)
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  Resample resample = Resample::None;  // Res blocks of resblock_updown models
};

struct BlockSpec {
  std::vector<LayerSpec> layers;
};

struct UNetLayout {
  std::vector<BlockSpec> input_blocks;
  BlockSpec middle_block;
  std::vector<BlockSpec> output_blocks;
  std::int64_t head_channels = 0;  // input width of out.0 / out.2
};

UNetLayout unet_layout(const UNetConfig& config);

struct ExpectedTensor {
  std::string key;
  Shape shape;
};
std::vector<ExpectedTensor> expected_tensors(const UNetConfig& config);

}  // namespace medport::models::guided_diffusion::detail
