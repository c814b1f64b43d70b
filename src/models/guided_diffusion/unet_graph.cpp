#include <cmath>

#include "medport/error.hpp"
#include "medport/graph/blocks.hpp"
#include "medport/graph/builder.hpp"
#include "medport/models/guided_diffusion/unet.hpp"
#include "unet_layout.hpp"

namespace medport::models::guided_diffusion {
namespace {

using detail::LayerKind;
using detail::LayerSpec;
using detail::Resample;
using graph::Builder;
using graph::Value;

class UNetGraphBuilder {
 public:
  UNetGraphBuilder(const UNetConfig& config, const StateDict& sd, Builder& b) : c_(config), sd_(sd), b_(b) {}

  Value weight(const std::string& key, std::optional<Shape> reshape_to = std::nullopt) {
    const auto it = sd_.find(key);
    if (it == sd_.end()) throw InputError("state dict", "missing tensor '" + key + "'");
    Tensor t = it->second.dtype() == DType::F32 ? it->second : it->second.to(DType::F32);
    if (reshape_to) t = t.contiguous().reshaped(*reshape_to);
    return b_.initializer(key, std::move(t));
  }

  // Node hint for a layer key: the key relative to the current scope.
  std::string hint_for(const std::string& key) const {
    const std::string scope = b_.prefix();
    if (!scope.empty() && key.starts_with(scope + ".")) return key.substr(scope.size() + 1);
    return key;
  }

  Value conv3x3(const Value& x, const std::string& name, std::int64_t stride = 1) {
    graph::ConvOptions options;
    options.pads = graph::symmetric_pads({1, 1});
    if (stride != 1) options.strides = {stride, stride};
    return b_.conv(x, weight(name + ".weight"), weight(name + ".bias"), options, hint_for(name));
  }

  Value conv1x1(const Value& x, const std::string& name, std::int64_t cout, std::int64_t cin) {
    return b_.conv(x, weight(name + ".weight", Shape{cout, cin, 1, 1}), weight(name + ".bias"), {},
                   hint_for(name));
  }

  Value group_norm(const Value& x, const std::string& name) {
    return b_.group_norm(x, 32, weight(name + ".weight"), weight(name + ".bias"), 1e-5f, hint_for(name));
  }

  // nn.timestep_embedding (cos first) followed by time_embed: Linear, SiLU, Linear.
  Value time_embedding(const Value& t, const std::optional<Value>& y) {
    auto scope = b_.scope("time_embed");
    const std::int64_t half = c_.model_channels / 2;
    // freqs in float32 as torch computes them: exp(float(-ln 10000) * i / half)
    std::vector<float> freqs(static_cast<std::size_t>(half));
    const auto minus_log_period = static_cast<float>(-std::log(10000.0));
    for (std::int64_t i = 0; i < half; ++i) {
      freqs[static_cast<std::size_t>(i)] =
          std::exp((minus_log_period * static_cast<float>(i)) / static_cast<float>(half));
    }
    Value emb;
    {
      // Arguments reach 4000 rad: the sinusoid must stay float32 even in an fp16 graph.
      auto fp32 = b_.keep_fp32();
      const Value tf = b_.unsqueeze(b_.cast(t, DType::F32, "t_float"), {1}, "t_column");
      const Value args = b_.mul(tf, b_.const_f32(freqs, {1, half}, "freqs"), "args");
      emb = b_.concat({b_.cos(args, "cos"), b_.sin(args, "sin")}, 1, "sinusoid");
    }
    emb = b_.linear(emb, weight("time_embed.0.weight"), weight("time_embed.0.bias"), "0");
    emb = b_.silu(emb, "1");
    emb = b_.linear(emb, weight("time_embed.2.weight"), weight("time_embed.2.bias"), "2");
    if (y) emb = b_.add(emb, b_.gather(weight("label_emb.weight"), *y, 0, "label_emb"), "add_label");
    return emb;
  }

  Value resample(const Value& x, Resample mode, const std::string& hint) {
    if (mode == Resample::Up) return b_.resize(x, {1.0f, 1.0f, 2.0f, 2.0f}, graph::ResizeOptions::torch_nearest(), hint);
    if (mode == Resample::Down) {
      graph::PoolOptions pool;
      pool.kernel_shape = {2, 2};
      pool.strides = {2, 2};
      return b_.avg_pool(x, pool, hint);
    }
    return x;
  }

  Value res_block(const Value& x, const Value& emb_silu, const LayerSpec& l) {
    auto scope = b_.scope(l.prefix);
    const std::string& p = l.prefix;
    Value h = b_.silu(group_norm(x, p + ".in_layers.0"), "in_silu");
    Value skip_input = x;
    if (l.resample != Resample::None) {
      h = resample(h, l.resample, "h_upd");
      skip_input = resample(x, l.resample, "x_upd");
    }
    h = conv3x3(h, p + ".in_layers.2");
    Value e = b_.linear(emb_silu, weight(p + ".emb_layers.1.weight"), weight(p + ".emb_layers.1.bias"), "emb");
    e = b_.unsqueeze(e, {2, 3}, "emb_hw");
    if (c_.scale_shift_norm) {
      const auto parts = b_.split(e, 1, {l.out_channels, l.out_channels}, "scale_shift");
      h = group_norm(h, p + ".out_layers.0");
      h = b_.add(b_.mul(h, b_.add(parts[0], 1.0, "one_plus_scale"), "scale"), parts[1], "shift");
    } else {
      h = group_norm(b_.add(h, e, "add_emb"), p + ".out_layers.0");
    }
    h = conv3x3(b_.silu(h, "out_silu"), p + ".out_layers.3");
    const Value skip = l.in_channels == l.out_channels
                           ? skip_input
                           : conv1x1(skip_input, p + ".skip_connection", l.out_channels, l.in_channels);
    return b_.add(skip, h, "residual");
  }

  Value attention_block(const Value& x, const LayerSpec& l) {
    auto scope = b_.scope(l.prefix);
    const std::string& p = l.prefix;
    const std::int64_t channels = l.in_channels;
    const std::int64_t heads = c_.heads_for(channels);
    const std::int64_t ch = channels / heads;
    // GroupNorm over [N, C, H, W] equals GroupNorm over the flattened [N, C, HW].
    const Value qkv = conv1x1(group_norm(x, p + ".norm"), p + ".qkv", 3 * channels, channels);
    Value q, k, v;
    if (c_.choices.attention_order == AttentionOrder::Legacy) {
      const Value split = b_.reshape(qkv, std::vector<std::int64_t>{0, heads, 3, ch, -1}, "heads");  // [N,h,3,ch,T]
      q = b_.gather(split, 0, 2, "q");
      k = b_.gather(split, 1, 2, "k");
      v = b_.gather(split, 2, 2, "v");
    } else {
      const Value split = b_.reshape(qkv, std::vector<std::int64_t>{0, 3, heads, ch, -1}, "heads");  // [N,3,h,ch,T]
      q = b_.gather(split, 0, 1, "q");
      k = b_.gather(split, 1, 1, "k");
      v = b_.gather(split, 2, 1, "v");
    }
    const double scale = 1.0 / std::sqrt(std::sqrt(static_cast<double>(ch)));
    q = b_.mul(q, static_cast<double>(static_cast<float>(scale)), "q_scaled");
    k = b_.mul(k, static_cast<double>(static_cast<float>(scale)), "k_scaled");
    // weight[t, s] = sum_c q[c, t] k[c, s]; a[c, t] = sum_s weight[t, s] v[c, s]
    const Value context = graph::blocks::attend(b_, b_.transpose(q, {0, 1, 3, 2}, "q_t"), k,
                                                b_.transpose(v, {0, 1, 3, 2}, "v_t"));  // [N,h,T,ch]
    const Value a = b_.transpose(context, {0, 1, 3, 2}, "a");                          // [N,h,ch,T]
    const Value a_map = b_.reshape(a, b_.shape(x, std::nullopt, std::nullopt, "x_shape"), "merge_heads");
    return b_.add(x, conv1x1(a_map, p + ".proj_out", channels, channels), "residual");
  }

  Value layer(const Value& h, const Value& emb_silu, const LayerSpec& l) {
    switch (l.kind) {
      case LayerKind::Stem:
        return conv3x3(h, l.prefix);  // key "input_blocks.0.0.weight"
      case LayerKind::Res:
        return res_block(h, emb_silu, l);
      case LayerKind::Attention:
        return attention_block(h, l);
      case LayerKind::DownConv:
        return conv3x3(h, l.prefix + ".op", 2);
      case LayerKind::UpConv:
        return conv3x3(resample(h, Resample::Up, l.prefix + ".upsample"), l.prefix + ".conv");
    }
    return h;
  }

  void build() {
    const Value x = b_.input(kInputX, DType::F32, {"N", c_.in_channels, "H", "W"});
    const Value t = b_.input(kInputT, DType::I64, {"N"});
    std::optional<Value> y;
    if (c_.num_classes > 0) y = b_.input(kInputY, DType::I64, {"N"});
    const Value emb = time_embedding(t, y);
    // Every ResBlock starts its emb path with SiLU(emb): computed once.
    const Value emb_silu = b_.silu(emb, "emb_silu");
    const detail::UNetLayout layout = detail::unet_layout(c_);
    std::vector<Value> skips;
    Value h = x;
    for (const auto& block : layout.input_blocks) {
      for (const auto& l : block.layers) h = layer(h, emb_silu, l);
      skips.push_back(h);
    }
    for (const auto& l : layout.middle_block.layers) h = layer(h, emb_silu, l);
    for (std::size_t i = 0; i < layout.output_blocks.size(); ++i) {
      h = b_.concat({h, skips.back()}, 1, "output_blocks." + std::to_string(i) + ".cat");
      skips.pop_back();
      for (const auto& l : layout.output_blocks[i].layers) h = layer(h, emb_silu, l);
    }
    h = b_.silu(group_norm(h, "out.0"), "out.1");
    h = conv3x3(h, "out.2");
    b_.output(h, kOutput, graph::Dims{"N", c_.out_channels, "H", "W"});
  }

 private:
  const UNetConfig& c_;
  const StateDict& sd_;
  Builder& b_;
};

}  // namespace

graph::Graph build_unet_graph(const UNetConfig& config, const StateDict& state_dict, const UNetGraphOptions& options) {
  Builder b("guided_diffusion_unet", options.opset);
  UNetGraphBuilder(config, state_dict, b).build();
  b.set_metadata("medport.family", "guided_diffusion_unet");
  b.set_metadata("medport.unet", config.describe());
  b.set_metadata("medport.attention_order",
                 config.choices.attention_order == AttentionOrder::Legacy ? "legacy" : "new");
  b.set_metadata("medport.num_head_channels", std::to_string(config.choices.num_head_channels));
  b.set_metadata("medport.num_heads", std::to_string(config.choices.num_heads));
  if (config.choices.image_size > 0) b.set_metadata("medport.image_size", std::to_string(config.choices.image_size));
  return std::move(b).finish();
}

}  // namespace medport::models::guided_diffusion
