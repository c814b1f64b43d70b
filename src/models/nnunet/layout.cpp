#include "medport/models/nnunet/layout.hpp"

#include <algorithm>

namespace medport::models::nnunet {
namespace {

ConvUnit conv_unit(const Architecture& a, std::string prefix, std::int64_t in, std::int64_t out,
                   std::vector<std::int64_t> kernel, std::vector<std::int64_t> stride) {
  ConvUnit u;
  u.prefix = std::move(prefix);
  u.in_channels = in;
  u.out_channels = out;
  u.kernel = std::move(kernel);
  u.stride = std::move(stride);
  u.bias = a.conv_bias;
  u.dropout = a.dropout;
  u.nonlin = a.nonlin != NonlinKind::None;
  u.nonlin_first = a.nonlin_first;
  return u;
}

std::string idx(int i) { return std::to_string(i); }

}  // namespace

int ConvUnit::norm_index(const Architecture& arch) const {
  int i = 1 + (dropout ? 1 : 0);
  if (nonlin_first && nonlin && arch.norm != NormKind::None) ++i;
  return i;
}

NetworkLayout network_layout(const Architecture& a) {
  NetworkLayout net;
  const auto ones = std::vector<std::int64_t>(static_cast<std::size_t>(a.dim), 1);
  std::int64_t in = a.input_channels;
  const bool plain = a.network_class == NetworkClass::PlainConvUNet;
  if (!plain) {
    net.stem = conv_unit(a, "encoder.stem.convs.0.", in, a.stem_channels, a.kernel_sizes[0], ones);
    net.stem->nonlin_first = false;
    in = a.stem_channels;
  }
  for (int s = 0; s < a.n_stages; ++s) {
    const auto su = static_cast<std::size_t>(s);
    EncoderStage stage;
    stage.out_channels = a.features_per_stage[su];
    for (int m = 0; m < a.n_per_stage[su]; ++m) {
      const auto stride = m == 0 ? a.strides[su] : ones;
      const std::int64_t cin = m == 0 ? in : stage.out_channels;
      if (plain) {
        stage.convs.push_back(conv_unit(a, "encoder.stages." + idx(s) + ".0.convs." + idx(m) + ".", cin,
                                        stage.out_channels, a.kernel_sizes[su], stride));
        continue;
      }
      ResidualBlock b;
      b.prefix = "encoder.stages." + idx(s) + ".blocks." + idx(m) + ".";
      b.conv1 = conv_unit(a, b.prefix + "conv1.", cin, stage.out_channels, a.kernel_sizes[su], stride);
      b.conv1.nonlin_first = false;
      b.conv2 = conv_unit(a, b.prefix + "conv2.", stage.out_channels, stage.out_channels, a.kernel_sizes[su], ones);
      b.conv2.dropout = false;
      b.conv2.nonlin = false;
      b.conv2.nonlin_first = false;
      const bool strided = std::any_of(stride.begin(), stride.end(), [](std::int64_t v) { return v != 1; });
      if (strided) b.pool = stride;
      if (cin != stage.out_channels) {
        ConvUnit p = conv_unit(a, b.prefix + "skip." + idx(strided ? 1 : 0) + ".", cin, stage.out_channels, ones, ones);
        p.bias = false;
        p.dropout = false;
        p.nonlin = false;
        p.nonlin_first = false;
        b.projection = p;
      }
      stage.blocks.push_back(std::move(b));
    }
    in = stage.out_channels;
    net.encoder.push_back(std::move(stage));
  }
  const int n = a.n_stages;
  for (int i = 0; i + 1 < n; ++i) {
    const auto below = static_cast<std::size_t>(n - 1 - i), skip = static_cast<std::size_t>(n - 2 - i);
    DecoderStage d;
    d.transpconv_prefix = "decoder.transpconvs." + idx(i) + ".";
    d.in_channels = a.features_per_stage[below];
    d.out_channels = a.features_per_stage[skip];
    d.transpconv_stride = a.strides[below];
    for (int m = 0; m < a.n_conv_per_stage_decoder[static_cast<std::size_t>(i)]; ++m)
      d.convs.push_back(conv_unit(a, "decoder.stages." + idx(i) + ".convs." + idx(m) + ".",
                                  m == 0 ? 2 * d.out_channels : d.out_channels, d.out_channels, a.kernel_sizes[skip],
                                  ones));
    d.seg_prefix = "decoder.seg_layers." + idx(i) + ".";
    net.decoder.push_back(std::move(d));
  }
  return net;
}

}  // namespace medport::models::nnunet
