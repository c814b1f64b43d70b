#include "unet_layout.hpp"

namespace medport::models::guided_diffusion::detail {
namespace {

std::string block_prefix(const char* group, std::size_t block, std::size_t layer) {
  return std::string(group) + "." + std::to_string(block) + "." + std::to_string(layer);
}

LayerSpec res(std::string prefix, std::int64_t cin, std::int64_t cout, Resample resample = Resample::None) {
  return {LayerKind::Res, std::move(prefix), cin, cout, resample};
}

LayerSpec attention(std::string prefix, std::int64_t channels) {
  return {LayerKind::Attention, std::move(prefix), channels, channels, Resample::None};
}

}  // namespace

UNetLayout unet_layout(const UNetConfig& c) {
  UNetLayout layout;
  const std::size_t levels = c.levels();
  std::int64_t ch = c.level_channels.front();
  std::vector<std::int64_t> skip_channels{ch};
  layout.input_blocks.push_back({{{LayerKind::Stem, "input_blocks.0.0", c.in_channels, ch, Resample::None}}});
  for (std::size_t level = 0; level < levels; ++level) {
    for (std::int64_t r = 0; r < c.num_res_blocks; ++r) {
      const std::size_t index = layout.input_blocks.size();
      BlockSpec block;
      block.layers.push_back(res(block_prefix("input_blocks", index, 0), ch, c.level_channels[level]));
      ch = c.level_channels[level];
      if (c.level_attention[level]) block.layers.push_back(attention(block_prefix("input_blocks", index, 1), ch));
      layout.input_blocks.push_back(std::move(block));
      skip_channels.push_back(ch);
    }
    if (level + 1 != levels) {
      const std::string prefix = block_prefix("input_blocks", layout.input_blocks.size(), 0);
      layout.input_blocks.push_back({{c.resblock_updown ? res(prefix, ch, ch, Resample::Down)
                                                        : LayerSpec{LayerKind::DownConv, prefix, ch, ch, Resample::None}}});
      skip_channels.push_back(ch);
    }
  }
  layout.middle_block.layers = {res("middle_block.0", ch, ch), attention("middle_block.1", ch),
                                res("middle_block.2", ch, ch)};
  for (std::size_t level = levels; level-- > 0;) {
    for (std::int64_t i = 0; i <= c.num_res_blocks; ++i) {
      const std::size_t index = layout.output_blocks.size();
      BlockSpec block;
      const std::int64_t skip = skip_channels.back();
      skip_channels.pop_back();
      block.layers.push_back(res(block_prefix("output_blocks", index, 0), ch + skip, c.level_channels[level]));
      ch = c.level_channels[level];
      if (c.level_attention[level]) block.layers.push_back(attention(block_prefix("output_blocks", index, 1), ch));
      if (level > 0 && i == c.num_res_blocks) {
        const std::string prefix = block_prefix("output_blocks", index, block.layers.size());
        block.layers.push_back(c.resblock_updown ? res(prefix, ch, ch, Resample::Up)
                                                 : LayerSpec{LayerKind::UpConv, prefix, ch, ch, Resample::None});
      }
      layout.output_blocks.push_back(std::move(block));
    }
  }
  layout.head_channels = ch;
  return layout;
}

std::vector<ExpectedTensor> expected_tensors(const UNetConfig& c) {
  std::vector<ExpectedTensor> out;
  const auto add = [&](std::string key, Shape shape) { out.push_back({std::move(key), std::move(shape)}); };
  const std::int64_t ted = c.time_embed_dim;
  add("time_embed.0.weight", {ted, c.model_channels});
  add("time_embed.0.bias", {ted});
  add("time_embed.2.weight", {ted, ted});
  add("time_embed.2.bias", {ted});
  if (c.num_classes > 0) add("label_emb.weight", {c.num_classes, ted});
  const UNetLayout layout = unet_layout(c);
  const auto add_layer = [&](const LayerSpec& l) {
    const std::string& p = l.prefix;
    switch (l.kind) {
      case LayerKind::Stem:
      case LayerKind::DownConv:
      case LayerKind::UpConv: {
        const std::string name = l.kind == LayerKind::Stem ? p : p + (l.kind == LayerKind::DownConv ? ".op" : ".conv");
        add(name + ".weight", {l.out_channels, l.in_channels, 3, 3});
        add(name + ".bias", {l.out_channels});
        break;
      }
      case LayerKind::Res:
        add(p + ".in_layers.0.weight", {l.in_channels});
        add(p + ".in_layers.0.bias", {l.in_channels});
        add(p + ".in_layers.2.weight", {l.out_channels, l.in_channels, 3, 3});
        add(p + ".in_layers.2.bias", {l.out_channels});
        add(p + ".emb_layers.1.weight", {(c.scale_shift_norm ? 2 : 1) * l.out_channels, ted});
        add(p + ".emb_layers.1.bias", {(c.scale_shift_norm ? 2 : 1) * l.out_channels});
        add(p + ".out_layers.0.weight", {l.out_channels});
        add(p + ".out_layers.0.bias", {l.out_channels});
        add(p + ".out_layers.3.weight", {l.out_channels, l.out_channels, 3, 3});
        add(p + ".out_layers.3.bias", {l.out_channels});
        if (l.in_channels != l.out_channels) {
          add(p + ".skip_connection.weight", {l.out_channels, l.in_channels, 1, 1});
          add(p + ".skip_connection.bias", {l.out_channels});
        }
        break;
      case LayerKind::Attention:
        add(p + ".norm.weight", {l.in_channels});
        add(p + ".norm.bias", {l.in_channels});
        add(p + ".qkv.weight", {3 * l.in_channels, l.in_channels, 1});
        add(p + ".qkv.bias", {3 * l.in_channels});
        add(p + ".proj_out.weight", {l.in_channels, l.in_channels, 1});
        add(p + ".proj_out.bias", {l.in_channels});
        break;
    }
  };
  for (const BlockSpec& b : layout.input_blocks) for (const LayerSpec& l : b.layers) add_layer(l);
  for (const LayerSpec& l : layout.middle_block.layers) add_layer(l);
  for (const BlockSpec& b : layout.output_blocks) for (const LayerSpec& l : b.layers) add_layer(l);
  add("out.0.weight", {layout.head_channels});
  add("out.0.bias", {layout.head_channels});
  add("out.2.weight", {c.out_channels, layout.head_channels, 3, 3});
  add("out.2.bias", {c.out_channels});
  return out;
}

}  // namespace medport::models::guided_diffusion::detail
