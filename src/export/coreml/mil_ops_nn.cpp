// Convolution, normalization, pooling, resampling and matrix products as MIL ops.
#include <cmath>

#include "export/coreml/mil_ops.hpp"

namespace medport::coreml::mil_ops {

namespace {

using Inputs = std::vector<std::pair<std::string, MilArg>>;

void check_auto_pad(const MilTranslator& t) {
  const std::string mode = t.attr_s("auto_pad", "NOTSET");
  if (mode != "NOTSET" && mode != "VALID" && !mode.empty()) t.unsupported("auto_pad " + mode);
}

// strides, pad_type, pad, dilations (+ groups) as conv/conv_transpose take them.
void add_window(MilTranslator& t, Inputs& ins, std::size_t spatial, bool with_dilations) {
  check_auto_pad(t);
  ins.emplace_back("strides", t.b().ints(ints_or(t, "strides", spatial, 1), t.tmp("strides")));
  ins.emplace_back("pad_type", t.b().text("custom", t.tmp("pad_type")));
  ins.emplace_back("pad", t.b().ints(mil_pads(t.attr_ints("pads"), spatial), t.tmp("pad")));
  if (with_dilations) ins.emplace_back("dilations", t.b().ints(ints_or(t, "dilations", spatial, 1), t.tmp("dilations")));
}

bool fully_known(const std::vector<std::int64_t>& shape) {
  for (auto d : shape)
    if (d < 0) return false;
  return true;
}

// Per-axis interpolation matrix [out, in] of ONNX Resize for one axis.
std::vector<float> resize_matrix(std::int64_t in, std::int64_t out, double scale, const std::string& mode,
                                 const std::string& coord, const std::string& nearest_mode) {
  std::vector<float> m(static_cast<std::size_t>(out * in), 0.0f);
  for (std::int64_t o = 0; o < out; ++o) {
    double x = 0.0;
    if (coord == "half_pixel") {
      x = (o + 0.5) / scale - 0.5;
    } else if (coord == "pytorch_half_pixel") {
      x = out > 1 ? (o + 0.5) / scale - 0.5 : 0.0;
    } else if (coord == "align_corners") {
      x = out > 1 ? o * static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
    } else {  // asymmetric
      x = o / scale;
    }
    if (mode == "nearest") {
      double i = 0.0;
      if (nearest_mode == "floor") {
        i = std::floor(x);
      } else if (nearest_mode == "ceil") {
        i = std::ceil(x);
      } else if (nearest_mode == "round_prefer_ceil") {
        i = std::floor(x + 0.5);
      } else {  // round_prefer_floor
        i = (x - std::floor(x) == 0.5) ? std::floor(x) : std::round(x);
      }
      const auto idx = std::clamp(static_cast<std::int64_t>(i), std::int64_t{0}, in - 1);
      m[static_cast<std::size_t>(o * in + idx)] = 1.0f;
    } else {
      x = std::clamp(x, 0.0, static_cast<double>(in - 1));
      const auto i0 = static_cast<std::int64_t>(std::floor(x));
      const auto i1 = std::min(i0 + 1, in - 1);
      const double w = x - static_cast<double>(i0);
      m[static_cast<std::size_t>(o * in + i0)] += static_cast<float>(1.0 - w);
      m[static_cast<std::size_t>(o * in + i1)] += static_cast<float>(w);
    }
  }
  return m;
}

}  // namespace

std::vector<std::int64_t> mil_pads(const std::vector<std::int64_t>& onnx_pads, std::size_t spatial) {
  std::vector<std::int64_t> out(2 * spatial, 0);
  if (onnx_pads.size() == 2 * spatial)
    for (std::size_t i = 0; i < spatial; ++i) {
      out[2 * i] = onnx_pads[i];
      out[2 * i + 1] = onnx_pads[spatial + i];
    }
  return out;
}

std::vector<std::int64_t> ints_or(const MilTranslator& t, const std::string& name, std::size_t count,
                                  std::int64_t fallback) {
  auto v = t.attr_ints(name);
  return v.empty() ? std::vector<std::int64_t>(count, fallback) : v;
}

std::int64_t norm_axis(std::int64_t axis, std::int64_t rank) { return axis < 0 ? axis + rank : axis; }

// A BatchNormalization with constant statistics that is the only reader of this Conv's output.
const graph::Node* foldable_batch_norm(const MilTranslator& t, const Node& n) {
  const auto& g = t.graph();
  auto uses = g.uses.find(n.outputs[0]);
  if (uses == g.uses.end() || uses->second.size() != 1 || g.is_graph_output(n.outputs[0])) return nullptr;
  const graph::Node* bn = uses->second.front().first;
  if (bn->op_type != "BatchNormalization" || uses->second.front().second != 0 || bn->outputs.size() != 1) return nullptr;
  for (std::size_t i = 1; i < 5; ++i)
    if (!g.is_constant(bn->inputs[i])) return nullptr;
  if (!t.constant(1) || (t.has_input(2) && !t.constant(2))) return nullptr;
  return bn;
}

// Conv followed by BatchNorm: W' = W * gamma / sqrt(var + eps), b' = (b - mean) * that + beta,
// computed in float32 and rounded once (as Apple's converter folds them).
void conv_with_batch_norm(MilTranslator& t, const Node& n, const graph::Node& bn, std::size_t spatial) {
  const auto& g = t.graph();
  const Tensor w = *t.constant(1);
  const auto gamma = g.constant(bn.inputs[1])->to_f32(), beta = g.constant(bn.inputs[2])->to_f32();
  const auto mean = g.constant(bn.inputs[3])->to_f32(), var = g.constant(bn.inputs[4])->to_f32();
  const auto eps = static_cast<double>(bn.find_attribute("epsilon") ? bn.find_attribute("epsilon")->f : 1e-5f);
  const auto out_channels = static_cast<std::size_t>(w.shape()[0]);
  std::vector<float> weights = w.to_f32(), bias(out_channels, 0.0f);
  if (t.has_input(2)) bias = t.constant(2)->to_f32();
  const std::size_t per_channel = weights.size() / out_channels;
  for (std::size_t c = 0; c < out_channels; ++c) {
    const double scale = gamma[c] / std::sqrt(static_cast<double>(var[c]) + eps);
    for (std::size_t k = 0; k < per_channel; ++k)
      weights[c * per_channel + k] = static_cast<float>(weights[c * per_channel + k] * scale);
    bias[c] = static_cast<float>((bias[c] - mean[c]) * scale + beta[c]);
  }
  const MilDType f = t.float_dtype();
  Inputs ins{{"x", t.in(0)},
             {"weight", t.b().floats(weights, w.shape(), f, n.inputs[1] + "_folded")},
             {"bias", t.b().floats(bias, {static_cast<std::int64_t>(out_channels)}, f, n.name + "_folded_bias")}};
  add_window(t, ins, spatial, true);
  ins.emplace_back("groups", t.b().scalar_i(t.attr_i("group", 1), t.tmp("groups")));
  // The folded conv produces the BatchNorm's output (named like it).
  const MilVar y = t.b().op("conv", ins, t.b().fresh(bn.outputs[0]), f, t.out_shape());
  t.set_out(y);
  t.set_value(bn.outputs[0], y);
}

void conv(MilTranslator& t, const Node& n) {
  const std::size_t spatial = t.shape_of(0).size() - 2;
  if (const graph::Node* bn = foldable_batch_norm(t, n); bn && t.float_dtype() == t.out_dtype()) {
    conv_with_batch_norm(t, n, *bn, spatial);
    return;
  }
  Inputs ins{{"x", t.in(0)}, {"weight", t.in(1)}};
  const bool const_bias = t.has_input(2) && t.constant(2);
  if (const_bias) ins.emplace_back("bias", t.in(2));
  add_window(t, ins, spatial, true);
  ins.emplace_back("groups", t.b().scalar_i(t.attr_i("group", 1), t.tmp("groups")));
  if (!t.has_input(2) || const_bias) {
    t.emit("conv", ins);
    return;
  }
  // A bias computed at run time: conv, then add it per channel.
  const auto shape = t.out_shape();
  MilVar y = t.b().op("conv", ins, t.tmp("conv"), t.out_dtype(), shape);
  std::vector<std::int64_t> per_channel(shape.size() - 1, 1);
  per_channel[0] = -1;
  MilVar b = t.b().op("reshape", {{"x", t.in(2)}, {"shape", t.b().ints(per_channel, t.tmp("bias_shape"))}},
                      t.tmp("bias"), t.out_dtype(), {shape[1], 1, 1});
  t.emit("add", {{"x", y}, {"y", b}});
}

void conv_transpose(MilTranslator& t, const Node&) {
  const std::size_t spatial = t.shape_of(0).size() - 2;
  if (!t.constant(1)) t.unsupported("a weight computed at run time");
  Inputs ins{{"x", t.in(0)}, {"weight", t.in(1)}};
  if (t.has_input(2)) {
    if (!t.constant(2)) t.unsupported("a bias computed at run time");
    ins.emplace_back("bias", t.in(2));
  }
  add_window(t, ins, spatial, true);
  ins.emplace_back("groups", t.b().scalar_i(t.attr_i("group", 1), t.tmp("groups")));
  const auto out = t.out_shape();
  bool output_padding = false;
  for (auto p : t.attr_ints("output_padding")) output_padding = output_padding || p != 0;
  if (fully_known(out)) {
    ins.emplace_back("output_shape", t.b().ints(out, t.tmp("output_shape")));
  } else if (output_padding || !t.attr_ints("output_shape").empty()) {
    t.unsupported("output_padding with a flexible input shape");
  }
  t.emit("conv_transpose", ins);
}

void instance_norm(MilTranslator& t, const Node&) {
  const auto xs = t.shape_of(0);
  const MilVar x = t.in(0);
  const MilVar eps = t.b().scalar_f(t.attr_f("epsilon", 1e-5f), t.float_dtype(), t.tmp("epsilon"));
  if (xs.size() == 3 || xs.size() == 4) {
    t.emit("instance_norm", {{"x", x}, {"gamma", t.in(1)}, {"beta", t.in(2)}, {"epsilon", eps}});
    return;
  }
  if (xs.size() < 3 || xs[0] < 0 || xs[1] < 0)
    t.unsupported("instance normalization of rank " + std::to_string(xs.size()) + " with unknown batch/channels");
  // Rank 5: over a [N, C, D*H*W] view (MIL's instance_norm takes at most two spatial dims).
  const bool known = fully_known(xs);
  std::int64_t n = 1;
  for (std::size_t i = 2; i < xs.size(); ++i) n = known ? n * xs[i] : -1;
  const std::vector<std::int64_t> flat_shape{xs[0], xs[1], n};
  const MilVar flat = t.b().op("reshape", {{"x", x}, {"shape", t.b().ints({xs[0], xs[1], -1}, t.tmp("flat_shape"))}},
                               t.tmp("flat"), x.dtype, flat_shape);
  const MilVar normed =
      t.b().op("instance_norm", {{"x", flat}, {"gamma", t.in(1)}, {"beta", t.in(2)}, {"epsilon", eps}},
               t.tmp("normed"), x.dtype, flat_shape);
  const MilVar shape_var =
      known ? t.b().ints(xs, t.tmp("shape"))
            : t.b().op("shape", {{"x", x}}, t.tmp("shape"), mil::INT32, {static_cast<std::int64_t>(xs.size())});
  t.emit("reshape", {{"x", normed}, {"shape", shape_var}});
}

void batch_norm(MilTranslator& t, const Node& n) {
  if (t.has_value(n.outputs[0])) return;  // folded into the Conv before it
  for (std::size_t i = 1; i < 5; ++i)
    if (!t.constant(i)) t.unsupported("batch-norm statistics computed at run time");
  t.emit("batch_norm", {{"x", t.in(0)},
                        {"mean", t.in(3)},
                        {"variance", t.in(4)},
                        {"gamma", t.in(1)},
                        {"beta", t.in(2)},
                        {"epsilon", t.b().scalar_f(t.attr_f("epsilon", 1e-5f), t.float_dtype(), t.tmp("epsilon"))}});
}

void layer_norm(MilTranslator& t, const Node&) {
  const auto rank = static_cast<std::int64_t>(t.shape_of(0).size());
  const std::int64_t axis = norm_axis(t.attr_i("axis", -1), rank);
  std::vector<std::int64_t> axes;
  for (std::int64_t a = axis; a < rank; ++a) axes.push_back(a);
  if (!t.constant(1) || (t.has_input(2) && !t.constant(2))) t.unsupported("scale/bias computed at run time");
  Inputs ins{{"x", t.in(0)}, {"axes", t.b().ints(axes, t.tmp("axes"))}, {"gamma", t.in(1)}};
  if (t.has_input(2)) ins.emplace_back("beta", t.in(2));
  ins.emplace_back("epsilon", t.b().scalar_f(t.attr_f("epsilon", 1e-5f), t.float_dtype(), t.tmp("epsilon")));
  t.emit("layer_norm", ins);
}

// ceil_mode only matters when it changes the output size; with static shapes that is known.
bool ceil_mode_matters(const MilTranslator& t, std::size_t spatial) {
  if (t.attr_i("ceil_mode", 0) == 0) return false;
  const auto in = t.shape_of(0), out = t.out_shape();
  if (!fully_known(in) || !fully_known(out)) return true;
  const auto k = t.attr_ints("kernel_shape"), s = ints_or(t, "strides", spatial, 1);
  const auto p = mil_pads(t.attr_ints("pads"), spatial);
  for (std::size_t i = 0; i < spatial; ++i)
    if ((in[2 + i] + p[2 * i] + p[2 * i + 1] - k[i]) / s[i] + 1 != out[2 + i]) return true;
  return false;
}

void pool(MilTranslator& t, const Node& n) {
  const std::size_t spatial = t.shape_of(0).size() - 2;
  check_auto_pad(t);
  Inputs ins{{"x", t.in(0)},
             {"kernel_sizes", t.b().ints(t.attr_ints("kernel_shape"), t.tmp("kernel_sizes"))},
             {"strides", t.b().ints(ints_or(t, "strides", spatial, 1), t.tmp("strides"))},
             {"pad_type", t.b().text("custom", t.tmp("pad_type"))},
             {"pad", t.b().ints(mil_pads(t.attr_ints("pads"), spatial), t.tmp("pad"))},
             {"ceil_mode", t.b().scalar_b(ceil_mode_matters(t, spatial), t.tmp("ceil_mode"))}};
  for (auto d : t.attr_ints("dilations"))
    if (d != 1) t.unsupported("pooling with dilations");
  if (n.op_type == "AveragePool") {
    ins.emplace_back("exclude_padding_from_average",
                     t.b().scalar_b(t.attr_i("count_include_pad", 0) == 0, t.tmp("exclude_padding_from_average")));
    t.emit("avg_pool", ins);
  } else {
    if (n.outputs.size() > 1 && !n.outputs[1].empty()) t.unsupported("max-pool indices");
    t.emit("max_pool", ins);
  }
}

void global_pool(MilTranslator& t, const Node& n) {
  const auto rank = static_cast<std::int64_t>(t.shape_of(0).size());
  std::vector<std::int64_t> axes;
  for (std::int64_t a = 2; a < rank; ++a) axes.push_back(a);
  t.emit(n.op_type == "GlobalAveragePool" ? "reduce_mean" : "reduce_max",
         {{"x", t.in(0)}, {"axes", t.b().ints(axes, t.tmp("axes"))}, {"keep_dims", t.b().scalar_b(true, t.tmp("keep_dims"))}});
}

void resize(MilTranslator& t, const Node&) {
  const auto in = t.shape_of(0);
  const auto out = t.out_shape();
  const std::string mode = t.attr_s("mode", "nearest");
  const std::string coord = t.attr_s("coordinate_transformation_mode", "half_pixel");
  const std::string nearest_mode = t.attr_s("nearest_mode", "round_prefer_floor");
  if (mode != "nearest" && mode != "linear") t.unsupported("resize mode " + mode);
  if (coord == "tf_crop_and_resize" || coord == "half_pixel_symmetric") t.unsupported("resize coordinates " + coord);
  std::vector<double> scales(in.size(), 1.0);
  const bool static_shapes = fully_known(in) && fully_known(out);
  if (t.has_input(2) && t.constant(2) && t.constant(2)->numel() > 0) {
    const auto s = t.const_floats(2, "scales");
    for (std::size_t i = 0; i < s.size(); ++i) scales[i] = s[i];
  } else if (static_shapes) {
    for (std::size_t i = 0; i < in.size(); ++i) scales[i] = static_cast<double>(out[i]) / static_cast<double>(in[i]);
  } else {
    t.unsupported("resizing a flexible shape to given sizes");
  }
  if (scales[0] != 1.0 || scales[1] != 1.0) t.unsupported("resizing the batch or channel axis");
  const std::size_t rank = in.size();
  bool integer = true;
  for (std::size_t i = 2; i < rank; ++i) integer = integer && scales[i] == std::floor(scales[i]) && scales[i] >= 1.0;
  MilVar x = t.in(0);
  // Rank 4, integer factors: Core ML's own upsampling ops.
  if (rank == 4 && integer && mode == "nearest" && coord == "asymmetric" && nearest_mode == "floor") {
    t.emit("upsample_nearest_neighbor",
           {{"x", x},
            {"scale_factor_height", t.b().scalar_i(static_cast<std::int64_t>(scales[2]), t.tmp("scale_h"))},
            {"scale_factor_width", t.b().scalar_i(static_cast<std::int64_t>(scales[3]), t.tmp("scale_w"))}});
    return;
  }
  // Half-pixel centres need iOS16's upsample_bilinear; before that, the general path below.
  const bool align = coord == "align_corners";
  if (rank == 4 && integer && mode == "linear" &&
      (align || ((coord == "pytorch_half_pixel" || coord == "half_pixel") && t.ios() >= 16))) {
    {
      Inputs ins{{"x", x},
                 {"scale_factor_height", t.b().scalar_i(static_cast<std::int64_t>(scales[2]), t.tmp("scale_h"))},
                 {"scale_factor_width", t.b().scalar_i(static_cast<std::int64_t>(scales[3]), t.tmp("scale_w"))},
                 {"align_corners", t.b().scalar_b(align, t.tmp("align_corners"))}};
      if (!align) {
        ins.emplace_back("half_pixel_centers", t.b().scalar_b(true, t.tmp("half_pixel_centers")));
      }
      t.emit("upsample_bilinear", ins);
      return;
    }
  }
  // Anything else: separable interpolation, one matrix product per resized axis.
  if (!static_shapes) t.unsupported("this resize of a flexible shape (mode " + mode + ", " + coord + ")");
  std::vector<std::int64_t> cur = in;
  for (std::size_t a = 2; a < rank; ++a) {
    if (in[a] == out[a] && scales[a] == 1.0) continue;
    const auto m = resize_matrix(in[a], out[a], scales[a], mode, coord, nearest_mode);
    std::vector<std::int64_t> next = cur;
    next[a] = out[a];
    if (a == rank - 1) {
      // x [..., in] @ M^T [in, out]
      const MilVar mt = t.b().floats(m, {out[a], in[a]}, x.dtype, t.tmp("interp"));
      x = t.b().op("matmul", {{"x", x}, {"y", mt}, {"transpose_x", t.b().scalar_b(false, t.tmp("tx"))},
                             {"transpose_y", t.b().scalar_b(true, t.tmp("ty"))}},
                   t.tmp("resized"), x.dtype, next);
    } else {
      // M [out, in] @ x viewed as [..., in, rest]
      std::int64_t rest = 1;
      for (std::size_t k = a + 1; k < rank; ++k) rest *= cur[k];
      std::vector<std::int64_t> view(cur.begin(), cur.begin() + static_cast<std::ptrdiff_t>(a) + 1);
      view.push_back(rest);
      std::vector<std::int64_t> view_out = view;
      view_out[a] = out[a];
      const MilVar xv = rank - 1 == a + 1 ? x
                                          : t.b().op("reshape", {{"x", x}, {"shape", t.b().ints(view, t.tmp("view"))}},
                                                     t.tmp("view"), x.dtype, view);
      const MilVar mm = t.b().floats(m, {out[a], in[a]}, x.dtype, t.tmp("interp"));
      MilVar y = t.b().op("matmul", {{"x", mm}, {"y", xv}, {"transpose_x", t.b().scalar_b(false, t.tmp("tx"))},
                                    {"transpose_y", t.b().scalar_b(false, t.tmp("ty"))}},
                          t.tmp("resized"), x.dtype, rank - 1 == a + 1 ? next : view_out);
      if (rank - 1 != a + 1)
        y = t.b().op("reshape", {{"x", y}, {"shape", t.b().ints(next, t.tmp("unview"))}}, t.tmp("unviewed"), x.dtype,
                     next);
      x = y;
    }
    cur = next;
  }
  t.emit("identity", {{"x", x}});
}

void matmul(MilTranslator& t, const Node& n) {
  // MatMul(x, Transpose(W)) with a constant W [out, in]: W is used as stored.
  const graph::Node* producer = t.graph().graph.find_producer(n.inputs[1]);
  const auto xs = t.shape_of(0);
  if (producer && producer->op_type == "Transpose" && t.graph().folded_nodes.count(producer->name) == 0 &&
      t.graph().is_constant(producer->inputs[0])) {
    const auto w = t.graph().constant(producer->inputs[0]);
    if (w->ndim() == 2) {
      const MilVar weight = t.value(producer->inputs[0]);
      if (xs.size() <= 3) {
        t.emit("linear", {{"x", t.in(0)}, {"weight", weight}});
      } else {
        t.emit("matmul", {{"x", t.in(0)}, {"y", weight}, {"transpose_x", t.b().scalar_b(false, t.tmp("tx"))},
                          {"transpose_y", t.b().scalar_b(true, t.tmp("ty"))}});
      }
      return;
    }
  }
  t.emit("matmul", {{"x", t.in(0)}, {"y", t.in(1)}, {"transpose_x", t.b().scalar_b(false, t.tmp("tx"))},
                    {"transpose_y", t.b().scalar_b(false, t.tmp("ty"))}});
}

void gemm(MilTranslator& t, const Node&) {
  if (t.attr_f("alpha", 1.0f) != 1.0f || t.attr_f("beta", 1.0f) != 1.0f || t.attr_i("transA", 0) != 0)
    t.unsupported("Gemm with alpha/beta != 1 or transA");
  const bool trans_b = t.attr_i("transB", 0) != 0;
  const bool const_c = !t.has_input(2) || t.constant(2);
  if (trans_b && t.constant(1) && const_c && (!t.has_input(2) || t.constant(2)->ndim() == 1)) {
    Inputs ins{{"x", t.in(0)}, {"weight", t.in(1)}};
    if (t.has_input(2)) ins.emplace_back("bias", t.in(2));
    t.emit("linear", ins);
    return;
  }
  const auto out = t.out_shape();
  MilVar y = t.b().op("matmul", {{"x", t.in(0)}, {"y", t.in(1)}, {"transpose_x", t.b().scalar_b(false, t.tmp("tx"))},
                                 {"transpose_y", t.b().scalar_b(trans_b, t.tmp("ty"))}},
                      t.has_input(2) ? t.tmp("matmul") : t.out_name(), t.out_dtype(), out);
  if (!t.has_input(2)) {
    t.set_out(y);
    return;
  }
  t.emit("add", {{"x", y}, {"y", t.in(2)}});
}

}  // namespace medport::coreml::mil_ops
