#pragma once
// The module tree of an nnU-Net v2 network, with the state_dict prefix of every layer: shared by
// the weight check (which keys must exist, with which shapes) and the graph emitter.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "medport/models/nnunet/architecture.hpp"

namespace medport::models::nnunet {

// ConvDropoutNormReLU: conv (+bias) -> [dropout] -> norm -> nonlin (norm/nonlin swapped when
// nonlin_first). `prefix` ends with '.', e.g. "encoder.stages.0.0.convs.1.".
struct ConvUnit {
  std::string prefix;
  std::int64_t in_channels = 0, out_channels = 0;
  std::vector<std::int64_t> kernel, stride;
  bool bias = false;
  bool dropout = false;
  bool nonlin = true;
  bool nonlin_first = false;
  // Index of the norm inside `.all_modules` (conv is 0).
  int norm_index(const Architecture& arch) const;
};

// BasicBlockD: conv1 -> conv2 (no nonlin) + skip, then nonlin. The skip average-pools when strided
// and projects with a 1x1 conv (no bias) + norm when the channel count changes.
struct ResidualBlock {
  std::string prefix;
  ConvUnit conv1, conv2;
  std::vector<std::int64_t> pool;          // empty: no pooling in the skip
  std::optional<ConvUnit> projection;      // skip.0 or skip.1
};

struct EncoderStage {
  std::vector<ConvUnit> convs;          // PlainConvUNet
  std::vector<ResidualBlock> blocks;    // ResidualEncoderUNet
  std::int64_t out_channels = 0;
};

struct DecoderStage {
  std::string transpconv_prefix;  // "decoder.transpconvs.i."
  std::int64_t in_channels = 0, out_channels = 0;
  std::vector<std::int64_t> transpconv_stride;  // kernel == stride
  std::vector<ConvUnit> convs;
  std::string seg_prefix;  // "decoder.seg_layers.i."
};

struct NetworkLayout {
  std::optional<ConvUnit> stem;  // ResidualEncoderUNet
  std::vector<EncoderStage> encoder;
  std::vector<DecoderStage> decoder;  // lowest resolution first (computation order)
};

NetworkLayout network_layout(const Architecture& arch);

}  // namespace medport::models::nnunet
