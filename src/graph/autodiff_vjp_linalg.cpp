// VJPs of matrix products, softmax, convolutions and instance normalization.
#include <algorithm>

#include "autodiff_internal.hpp"

namespace medport::graph::autodiff {

namespace {

using Grads = std::vector<Value>;
using A = Attribute;

Value out_grad(VjpContext& c) { return c.output_grads.at(0); }

// The product's static shape with its last two dims replaced by [m, n]: the shape of an operand's
// gradient before the broadcast batch dims are summed away.
std::optional<std::vector<std::int64_t>> product_shape(const std::optional<std::vector<std::int64_t>>& out,
                                                       std::int64_t m, std::int64_t n) {
  if (!out || out->size() < 2) return std::nullopt;
  auto s = *out;
  s[s.size() - 2] = m;
  s[s.size() - 1] = n;
  return s;
}

Grads matmul_vjp(VjpContext& c) {
  const Value& a = c.inputs[0];
  const Value& bm = c.inputs[1];
  const std::int64_t ra = c.rank_of(a), rb = c.rank_of(bm);
  if (ra < 2 || rb < 2) c.unsupported("1-D MatMul operands are not differentiable here (unsqueeze them)");
  const Value g = out_grad(c);
  const auto sa = c.shape_of(a), sb = c.shape_of(bm), so = c.shape_of(c.outputs[0]);
  Grads r(2);
  if (c.want(0)) {
    const Value ga = c.b.matmul(g, transpose_last2(c.b, bm, rb), "grad_a");
    r[0] = unbroadcast(c, ga, a, product_shape(so, (*sa)[static_cast<std::size_t>(ra - 2)], (*sa)[static_cast<std::size_t>(ra - 1)]));
  }
  if (c.want(1)) {
    const Value gb = c.b.matmul(transpose_last2(c.b, a, ra), g, "grad_b");
    r[1] = unbroadcast(c, gb, bm, product_shape(so, (*sb)[static_cast<std::size_t>(rb - 2)], (*sb)[static_cast<std::size_t>(rb - 1)]));
  }
  return r;
}

// Y = alpha op(A) op(B) + beta C on 2-D operands.
Grads gemm_vjp(VjpContext& c) {
  const float alpha = c.float_attr("alpha", 1.0f), beta = c.float_attr("beta", 1.0f);
  const bool ta = c.int_attr("transA", 0) != 0, tb = c.int_attr("transB", 0) != 0;
  Value g = out_grad(c);
  if (alpha != 1.0f) g = c.b.mul(g, static_cast<double>(alpha), "alpha");
  const Value& a = c.inputs[0];
  const Value& bm = c.inputs[1];
  Grads r(c.inputs.size());
  if (c.want(0)) {
    // d op(A) = g op(B)^T; with transA, dA = op(B) g^T.
    r[0] = ta ? c.b.matmul(tb ? c.b.transpose(bm, {1, 0}) : bm, c.b.transpose(g, {1, 0}), "grad_a")
              : c.b.matmul(g, tb ? bm : c.b.transpose(bm, {1, 0}), "grad_a");
  }
  if (c.want(1)) {
    r[1] = tb ? c.b.matmul(c.b.transpose(g, {1, 0}), ta ? c.b.transpose(a, {1, 0}) : a, "grad_b")
              : c.b.matmul(ta ? a : c.b.transpose(a, {1, 0}), g, "grad_b");
  }
  if (c.want(2)) {
    Value gc = out_grad(c);
    if (beta != 1.0f) gc = c.b.mul(gc, static_cast<double>(beta), "beta");
    r[2] = unbroadcast(c, gc, c.inputs[2], c.shape_of(c.outputs[0]));
  }
  return r;
}

Grads softmax_vjp(VjpContext& c) {
  const std::int64_t axis = c.int_attr("axis", -1);
  const Value& y = c.outputs[0];
  const Value gy = c.b.mul(out_grad(c), y, "g_times_y");
  const Value s = c.b.reduce_sum(gy, {axis}, true, "sum_gy");
  return {c.b.sub(gy, c.b.mul(y, s), "softmax_grad")};
}

Grads log_softmax_vjp(VjpContext& c) {
  const std::int64_t axis = c.int_attr("axis", -1);
  const Value g = out_grad(c);
  const Value s = c.b.reduce_sum(g, {axis}, true, "sum_g");
  return {c.b.sub(g, c.b.mul(c.b.exp(c.outputs[0], "softmax"), s), "log_softmax_grad")};
}

struct ConvGeometry {
  std::int64_t spatial = 0;
  std::vector<std::int64_t> strides, pads, dilations;
  std::int64_t groups = 1;
};

ConvGeometry conv_geometry(VjpContext& c) {
  if (c.string_attr("auto_pad", "NOTSET") != "NOTSET") c.unsupported("auto_pad is not differentiable here (use pads)");
  ConvGeometry geo;
  const auto ws = c.shape_of(c.inputs[1]);
  if (ws) geo.spatial = static_cast<std::int64_t>(ws->size()) - 2;
  else if (auto k = c.ints_attr("kernel_shape")) geo.spatial = static_cast<std::int64_t>(k->size());
  else c.unsupported("the weight's rank is unknown");
  const auto n = static_cast<std::size_t>(geo.spatial);
  geo.strides = c.ints_attr("strides").value_or(std::vector<std::int64_t>(n, 1));
  geo.pads = c.ints_attr("pads").value_or(std::vector<std::int64_t>(2 * n, 0));
  geo.dilations = c.ints_attr("dilations").value_or(std::vector<std::int64_t>(n, 1));
  geo.groups = c.int_attr("group", 1);
  return geo;
}

Value bias_grad(VjpContext& c, std::int64_t spatial) {
  std::vector<std::int64_t> axes{0};
  for (std::int64_t i = 0; i < spatial; ++i) axes.push_back(i + 2);
  return c.b.reduce_sum(out_grad(c), axes, false, "grad_bias");
}

// Conv: dW[m, c, k] = sum over n, o of g[n, m, o] x_padded[n, c, o s + k d]: a convolution of x
// (channels as batch) with g as the kernel, strides and dilations swapped, cut to the kernel size.
Value conv_weight_grad(VjpContext& c, const ConvGeometry& geo, bool transposed) {
  if (geo.groups != 1) c.unsupported("the weight gradient needs group = 1");
  const auto ws = c.shape_of(c.inputs[1]);
  if (!ws || std::any_of(ws->begin(), ws->end(), [](auto d) { return d < 0; }))
    c.unsupported("the weight gradient needs the weight's static shape");
  const auto n = static_cast<std::size_t>(geo.spatial);
  std::vector<std::int64_t> swap01{1, 0};
  for (std::size_t i = 0; i < n; ++i) swap01.push_back(static_cast<std::int64_t>(i + 2));
  const Value xt = c.b.transpose(c.inputs[0], swap01, "input_channels_first");
  const Value gt = c.b.transpose(out_grad(c), swap01, "grad_channels_first");
  ConvOptions o;
  o.strides = geo.dilations;
  o.dilations = geo.strides;
  o.pads = geo.pads;
  // ConvTranspose swaps the roles: dW[c, m, k] = sum g_padded[n, m, i s + k d] x[n, c, i].
  const Value full = transposed ? c.b.conv(gt, xt, std::nullopt, o, "weight_correlation")
                                : c.b.conv(xt, gt, std::nullopt, o, "weight_correlation");
  std::vector<std::int64_t> axes, starts(n, 0), ends;
  for (std::size_t i = 0; i < n; ++i) {
    axes.push_back(static_cast<std::int64_t>(i + 2));
    ends.push_back((*ws)[i + 2]);
  }
  return c.b.transpose(c.b.slice(full, starts, ends, axes, {}, "kernel_size"), swap01, "grad_weight");
}

// Stride 1, group 1, constant float32 weight W [M, C, k...]: dX = Conv(dY, W') with
// W'[c, m, k] = W[m, c, K-1-k] (flipped, in/out swapped, made once here) and pads
// d (K-1) - p per end, which gives x's size exactly. ONNX Runtime's Conv is much faster than its
// ConvTranspose on 3-D volumes. Invalid when the form does not apply.
Value conv_input_grad_by_flipped_conv(VjpContext& c, const ConvGeometry& geo) {
  const auto n = static_cast<std::size_t>(geo.spatial);
  if (geo.groups != 1 || std::any_of(geo.strides.begin(), geo.strides.end(), [](auto s) { return s != 1; })) return {};
  const Initializer* init = c.forward.find_initializer(c.node.inputs[1]);
  if (init == nullptr || init->tensor.dtype() != DType::F32 || init->tensor.ndim() != n + 2) return {};
  const Shape& ws = init->tensor.shape();
  ConvOptions o;
  o.dilations = geo.dilations;
  o.pads.resize(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t reach = geo.dilations[i] * (ws[i + 2] - 1);
    o.pads[i] = reach - geo.pads[i];
    o.pads[i + n] = reach - geo.pads[i + n];
    if (o.pads[i] < 0 || o.pads[i + n] < 0) return {};
  }
  const std::int64_t out_ch = ws[0], in_ch = ws[1];
  const std::int64_t taps = shape_numel(ws) / (out_ch * in_ch);
  const std::vector<float> w = init->tensor.to_f32();
  std::vector<float> flipped(w.size());
  for (std::int64_t m = 0; m < out_ch; ++m)
    for (std::int64_t ci = 0; ci < in_ch; ++ci)
      for (std::int64_t k = 0; k < taps; ++k)  // reversing the flattened taps flips every axis
        flipped[static_cast<std::size_t>((ci * out_ch + m) * taps + (taps - 1 - k))] =
            w[static_cast<std::size_t>((m * in_ch + ci) * taps + k)];
  Shape flipped_shape = ws;
  std::swap(flipped_shape[0], flipped_shape[1]);
  const Value weight = c.b.constant(Tensor::from_f32(flipped_shape, flipped), "flipped_weight");
  return c.b.conv(out_grad(c), weight, std::nullopt, o, "grad_input");
}

// Conv: dX = ConvTranspose(dY, W) with the same strides/dilations/groups and the begin pads.
// Without end padding the transposed result ends where the last window ended; it is then
// zero-padded or cut to x's size (input rows the stride never reached get zero).
Grads conv_vjp(VjpContext& c) {
  const auto geo = conv_geometry(c);
  Grads r(c.inputs.size());
  if (c.want(1)) r[1] = conv_weight_grad(c, geo, false);
  if (c.want(0)) r[0] = conv_input_grad_by_flipped_conv(c, geo);
  if (c.want(0) && !r[0].valid()) {
    const auto n = static_cast<std::size_t>(geo.spatial);
    ConvTransposeOptions o;
    o.strides = geo.strides;
    o.pads.assign(geo.pads.begin(), geo.pads.begin() + static_cast<std::ptrdiff_t>(n));
    o.pads.resize(2 * n, 0);
    o.dilations = geo.dilations;
    o.groups = geo.groups;
    if (auto k = c.ints_attr("kernel_shape")) o.kernel_shape = *k;
    const Value raw = c.b.conv_transpose(out_grad(c), c.inputs[1], std::nullopt, o, "grad_input");
    const Value xs = c.b.shape(c.inputs[0], 2, std::nullopt, "input_spatial");
    const Value rs = c.b.shape(raw, 2, std::nullopt, "grad_spatial");
    const Value missing = c.b.op1("Max", {c.b.sub(xs, rs, "size_diff"), c.b.const_i64({0}, "zero")}, {}, "missing");
    const Value zeros = c.b.const_i64(std::vector<std::int64_t>(n + 2, 0), "begin_pads");
    const Value pads = c.b.concat({zeros, c.b.const_i64({0, 0}, "channel_pads"), missing}, 0, "pads");
    const Value padded = c.b.op1("Pad", {raw, pads}, {}, "pad_tail");
    std::vector<std::int64_t> axes, starts(n, 0);
    for (std::size_t i = 0; i < n; ++i) axes.push_back(static_cast<std::int64_t>(i + 2));
    r[0] = c.b.slice(padded, c.b.const_i64(starts, "starts"), xs, c.b.const_i64(axes, "axes"), std::nullopt, "cut_tail");
  }
  if (c.want(2)) r[2] = bias_grad(c, geo.spatial);
  return r;
}

// ConvTranspose: dX = Conv(dY, W) with the same geometry (W's [Cin, Cout/g, k] layout is what
// Conv expects for Cout -> Cin).
Grads conv_transpose_vjp(VjpContext& c) {
  const auto geo = conv_geometry(c);
  if (c.ints_attr("output_shape")) c.unsupported("output_shape is not differentiable here (use output_padding)");
  Grads r(c.inputs.size());
  if (c.want(1)) r[1] = conv_weight_grad(c, geo, true);
  if (c.want(0)) {
    ConvOptions o;
    o.strides = geo.strides;
    o.pads = geo.pads;
    o.dilations = geo.dilations;
    o.groups = geo.groups;
    if (auto k = c.ints_attr("kernel_shape")) o.kernel_shape = *k;
    r[0] = c.b.conv(out_grad(c), c.inputs[1], std::nullopt, o, "grad_input");
  }
  if (c.want(2)) r[2] = bias_grad(c, geo.spatial);
  return r;
}

// y = scale * xhat + bias per (n, c) over the spatial axes:
// dx = scale / sigma * (g - mean(g) - xhat * mean(g * xhat)).
Grads instance_norm_vjp(VjpContext& c) {
  const std::int64_t rank = c.rank_of(c.inputs[0]);
  const float eps = c.float_attr("epsilon", 1e-5f);
  Builder& b = c.b;
  std::vector<std::int64_t> spatial;
  for (std::int64_t i = 2; i < rank; ++i) spatial.push_back(i);
  std::vector<std::int64_t> channel_view{-1};
  for (std::int64_t i = 2; i < rank; ++i) channel_view.push_back(1);
  const Value& x = c.inputs[0];
  const Value g = out_grad(c);
  const Value mean = b.reduce_mean(x, spatial, true, "mean");
  const Value centered = b.sub(x, mean, "centered");
  const Value var = b.reduce_mean(b.mul(centered, centered, "squared"), spatial, true, "var");
  const Value inv_sigma = b.reciprocal(b.sqrt(b.add(var, static_cast<double>(eps), "var_eps")), "inv_sigma");
  const Value xhat = b.mul(centered, inv_sigma, "xhat");
  Grads r(3);
  if (c.want(0)) {
    const Value scale = b.reshape(c.inputs[1], channel_view, "scale_view");
    const Value mean_g = b.reduce_mean(g, spatial, true, "mean_g");
    const Value mean_gx = b.reduce_mean(b.mul(g, xhat, "g_xhat"), spatial, true, "mean_g_xhat");
    const Value inner = b.sub(b.sub(g, mean_g, "g_centered"), b.mul(xhat, mean_gx, "xhat_term"), "inner");
    r[0] = b.mul(b.mul(inner, inv_sigma, "inner_scaled"), scale, "grad_input");
  }
  std::vector<std::int64_t> all_but_channel{0};
  for (auto a : spatial) all_but_channel.push_back(a);
  if (c.want(1)) r[1] = b.reduce_sum(b.mul(g, xhat, "g_xhat_s"), all_but_channel, false, "grad_scale");
  if (c.want(2)) r[2] = b.reduce_sum(g, all_but_channel, false, "grad_bias");
  return r;
}

}  // namespace

void add_linalg_vjps(std::map<std::string, Vjp>& t) {
  t["MatMul"] = matmul_vjp;
  t["Gemm"] = gemm_vjp;
  t["Softmax"] = softmax_vjp;
  t["LogSoftmax"] = log_softmax_vjp;
  t["Conv"] = conv_vjp;
  t["ConvTranspose"] = conv_transpose_vjp;
  t["InstanceNormalization"] = instance_norm_vjp;
}

}  // namespace medport::graph::autodiff
