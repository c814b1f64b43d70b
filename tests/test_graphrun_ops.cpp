// Every Builder op family, run in ONNX Runtime and compared with PyTorch (computed at test time
// by /usr/bin/python3) or with values computed by hand.
#include <cmath>
#include <limits>
#include <numbers>

#include "test_graphrun_support.hpp"

namespace {

using namespace graphrun;

constexpr auto F32 = DType::F32;

Tensor positive(Shape shape, std::uint32_t seed) { return random_tensor(std::move(shape), seed, 0.1f, 2.0f); }

Tensor i64_values(Shape shape, const std::vector<std::int64_t>& values) {
  return Tensor::from_bytes(DType::I64, std::move(shape), std::as_bytes(std::span(values.data(), values.size())));
}

TEST(GraphRunOps, ConvolutionsMatchTorch) {
  const Tensor x = random_tensor({1, 4, 9, 8}, 1), w = random_tensor({6, 2, 3, 3}, 2), bias = random_tensor({6}, 3);
  const Tensor x3 = random_tensor({1, 2, 6, 7, 5}, 4), w3 = random_tensor({3, 2, 3, 3, 3}, 5);
  const Tensor wt = random_tensor({4, 3, 2, 2}, 6), wt3 = random_tensor({2, 2, 2, 2, 2}, 7);
  Builder b;
  const auto xv = b.input("x", F32, {1, 4, 9, 8});
  const auto x3v = b.input("x3", F32, {1, 2, 6, 7, 5});
  ConvOptions grouped;
  grouped.strides = {2, 1};
  grouped.pads = {1, 0, 2, 1};
  grouped.dilations = {1, 2};
  grouped.groups = 2;
  const auto wv = b.initializer("w", w);
  const auto bv = b.initializer("bias", bias);
  b.output(b.conv(xv, wv, bv, grouped), "conv2d");
  ConvOptions strided3d;
  strided3d.strides = {2, 2, 2};
  strided3d.pads = symmetric_pads({1, 1, 1});
  b.output(b.conv(x3v, b.initializer("w3", w3), std::nullopt, strided3d), "conv3d");
  ConvTransposeOptions up;
  up.strides = {2, 2};
  up.output_padding = {1, 1};
  b.output(b.conv_transpose(xv, b.initializer("wt", wt), std::nullopt, up), "convt2d");
  ConvTransposeOptions up3;
  up3.strides = {2, 2, 2};
  b.output(b.conv_transpose(x3v, b.initializer("wt3", wt3), std::nullopt, up3), "convt3d");
  const auto outs = run(std::move(b).finish(), {{"x", x}, {"x3", x3}});
  const auto ref = torch_reference(R"(
save("conv2d", F.conv2d(F.pad(x, (0, 1, 1, 2)), w, bias, stride=(2, 1), dilation=(1, 2), groups=2))
save("conv3d", F.conv3d(x3, w3, None, stride=2, padding=1))
save("convt2d", F.conv_transpose2d(x, wt, stride=2, output_padding=1))
save("convt3d", F.conv_transpose3d(x3, wt3, stride=2))
)",
                                   {{"x", x}, {"w", w}, {"bias", bias}, {"x3", x3}, {"w3", w3}, {"wt", wt}, {"wt3", wt3}});
  for (const char* name : {"conv2d", "conv3d", "convt2d", "convt3d"}) expect_close(output(outs, name), ref, name);
}

TEST(GraphRunOps, NormalizationsMatchTorch) {
  const Tensor x = random_tensor({2, 6, 5, 4}, 10, -2.0f, 3.0f), x3 = random_tensor({2, 6, 7}, 11);
  const Tensor s6 = random_tensor({6}, 12), b6 = random_tensor({6}, 13);
  const Tensor xl = random_tensor({2, 5, 8}, 14), s8 = random_tensor({8}, 15), b8 = random_tensor({8}, 16);
  const Tensor s58 = random_tensor({5, 8}, 17), mean = random_tensor({6}, 18), var = positive({6}, 19);
  Builder b;
  const auto xv = b.input("x", F32, {2, 6, 5, 4});
  const auto x3v = b.input("x3", F32, {2, 6, 7});
  const auto xlv = b.input("xl", F32, {2, 5, 8});
  const auto s6v = b.initializer("s6", s6), b6v = b.initializer("b6", b6);
  b.output(b.instance_norm(xv, s6v, b6v), "instance");
  b.output(b.group_norm(xv, 3, s6v, b6v), "group4d");
  b.output(b.group_norm(x3v, 2, std::nullopt, std::nullopt, 1e-6f), "group3d");
  // A float16 activation is normalized in float32 and handed back as float16.
  b.output(b.cast(b.group_norm(b.cast(xv, DType::F16), 3, s6v, std::nullopt), F32), "group_half");
  b.output(b.layer_norm(xlv, b.initializer("s8", s8), b.initializer("b8", b8)), "layer");
  b.output(b.layer_norm(xlv, b.initializer("s58", s58), std::nullopt, -2), "layer2");
  b.output(b.batch_norm(xv, s6v, b6v, b.initializer("mean", mean), b.initializer("var", var)), "batch");
  const auto outs = run(std::move(b).finish(), {{"x", x}, {"x3", x3}, {"xl", xl}});
  const auto ref = torch_reference(R"(
save("instance", F.instance_norm(x, weight=s6, bias=b6, eps=1e-5))
save("group4d", F.group_norm(x, 3, s6, b6, 1e-5))
save("group3d", F.group_norm(x3, 2, eps=1e-6))
save("group_half", F.group_norm(x.half().float(), 3, s6, None, 1e-5))
save("layer", F.layer_norm(xl, [8], s8, b8, 1e-5))
save("layer2", F.layer_norm(xl, [5, 8], s58, None, 1e-5))
save("batch", F.batch_norm(x, mean, var, s6, b6, False, 0.0, 1e-5))
)",
                                   {{"x", x}, {"x3", x3}, {"xl", xl}, {"s6", s6}, {"b6", b6}, {"s8", s8}, {"b8", b8},
                                    {"s58", s58}, {"mean", mean}, {"var", var}});
  for (const char* name : {"instance", "group4d", "group3d", "layer", "layer2", "batch"})
    expect_close(output(outs, name), ref, name, 1e-4f, 1e-4f);
  expect_close(output(outs, "group_half"), ref, "group_half", 1e-2f, 1e-2f);
}

TEST(GraphRunOps, ActivationsAndUnaryMathMatchTheirDefinitions) {
  const Tensor x = random_tensor({2, 5}, 20, -3.0f, 3.0f);
  const Tensor p = positive({2, 5}, 21);
  Builder b;
  const auto xv = b.input("x", F32, {2, 5});
  const auto pv = b.input("p", F32, {2, 5});
  b.output(b.relu(xv), "relu");
  b.output(b.leaky_relu(xv, 0.2f), "leaky");
  b.output(b.sigmoid(xv), "sigmoid");
  b.output(b.tanh(xv), "tanh");
  b.output(b.silu(xv), "silu");
  b.output(b.gelu(xv), "gelu");
  b.output(b.hard_sigmoid(xv), "hard_sigmoid");
  b.output(b.hard_swish(xv), "hard_swish");
  b.output(b.erf(xv), "erf");
  b.output(b.cos(xv), "cos");
  b.output(b.sin(xv), "sin");
  b.output(b.exp(xv), "exp");
  b.output(b.log(pv), "log");
  b.output(b.sqrt(pv), "sqrt");
  b.output(b.neg(xv), "neg");
  b.output(b.abs(xv), "abs");
  b.output(b.reciprocal(pv), "reciprocal");
  b.output(b.identity(xv), "identity");
  const auto outs = run(std::move(b).finish(), {{"x", x}, {"p", p}});
  const auto xs = x.to_f32(), ps = p.to_f32();
  auto check = [&](const std::string& name, auto fn, const std::vector<float>& in, float tol = 2e-6f) {
    std::vector<float> want;
    for (float v : in) want.push_back(static_cast<float>(fn(static_cast<double>(v))));
    expect_values(output(outs, name), {2, 5}, want, tol);
  };
  check("relu", [](double v) { return v > 0 ? v : 0.0; }, xs);
  check("leaky", [](double v) { return v > 0 ? v : 0.2 * v; }, xs);
  check("sigmoid", [](double v) { return 1.0 / (1.0 + std::exp(-v)); }, xs);
  check("tanh", [](double v) { return std::tanh(v); }, xs);
  check("silu", [](double v) { return v / (1.0 + std::exp(-v)); }, xs);
  check("gelu", [](double v) { return 0.5 * v * (1.0 + std::erf(v / std::numbers::sqrt2)); }, xs, 1e-5f);
  const auto relu6 = [](double v) { return std::min(std::max(v, 0.0), 6.0); };
  check("hard_sigmoid", [&](double v) { return relu6(v + 3.0) / 6.0; }, xs);
  check("hard_swish", [&](double v) { return v * relu6(v + 3.0) / 6.0; }, xs);
  check("erf", [](double v) { return std::erf(v); }, xs);
  check("cos", [](double v) { return std::cos(v); }, xs);
  check("sin", [](double v) { return std::sin(v); }, xs);
  check("exp", [](double v) { return std::exp(v); }, xs, 1e-5f);
  check("log", [](double v) { return std::log(v); }, ps);
  check("sqrt", [](double v) { return std::sqrt(v); }, ps);
  check("neg", [](double v) { return -v; }, xs);
  check("abs", [](double v) { return std::fabs(v); }, xs);
  check("reciprocal", [](double v) { return 1.0 / v; }, ps, 1e-5f);
  check("identity", [](double v) { return v; }, xs);
}

TEST(GraphRunOps, BinaryOpsBroadcastLikeNumpy) {
  const std::vector<float> av{1, -2, 3, 4, 5, -6}, bv{2, 0.5f, -1};
  Builder b;
  const auto a = b.input("a", F32, {2, 3});
  const auto c = b.input("b", F32, {3});
  b.output(b.add(a, c), "add");
  b.output(b.sub(a, c), "sub");
  b.output(b.mul(a, c), "mul");
  b.output(b.div(a, c), "div");
  b.output(b.pow(b.abs(a), 2.0), "pow");
  b.output(b.add(a, 1.5), "add_scalar");
  b.output(b.where(b.greater(a, c), a, c), "max");
  b.output(b.clip(a, -1.0, 3.5), "clip");
  b.output(b.clip(a, std::nullopt, 0.0), "clip_max");
  b.output(b.cast(b.equal(a, b.mul(c, 2.0)), F32), "equal");
  b.output(b.cast(b.less(a, c), F32), "less");
  const auto outs = run(std::move(b).finish(),
                        {{"a", Tensor::from_f32({2, 3}, av)}, {"b", Tensor::from_f32({3}, bv)}});
  expect_values(output(outs, "add"), {2, 3}, {3, -1.5f, 2, 6, 5.5f, -7});
  expect_values(output(outs, "sub"), {2, 3}, {-1, -2.5f, 4, 2, 4.5f, -5});
  expect_values(output(outs, "mul"), {2, 3}, {2, -1, -3, 8, 2.5f, 6});
  expect_values(output(outs, "div"), {2, 3}, {0.5f, -4, -3, 2, 10, 6});
  expect_values(output(outs, "pow"), {2, 3}, {1, 4, 9, 16, 25, 36});
  expect_values(output(outs, "add_scalar"), {2, 3}, {2.5f, -0.5f, 4.5f, 5.5f, 6.5f, -4.5f});
  expect_values(output(outs, "max"), {2, 3}, {2, 0.5f, 3, 4, 5, -1});
  expect_values(output(outs, "clip"), {2, 3}, {1, -1, 3, 3.5f, 3.5f, -1});
  expect_values(output(outs, "clip_max"), {2, 3}, {0, -2, 0, 0, 0, -6});
  expect_values(output(outs, "equal"), {2, 3}, {0, 0, 0, 1, 0, 0});
  expect_values(output(outs, "less"), {2, 3}, {1, 1, 0, 0, 0, 1});
}

TEST(GraphRunOps, LinearAlgebraAndSoftmaxMatchTorch) {
  const Tensor x = random_tensor({2, 3, 4}, 30), m = random_tensor({4, 5}, 31);
  const Tensor ga = random_tensor({3, 4}, 32), gb = random_tensor({5, 4}, 33), gc = random_tensor({5}, 34);
  const Tensor w = random_tensor({6, 4}, 35), bias = random_tensor({6}, 36);
  Builder b;
  const auto xv = b.input("x", F32, {2, 3, 4});
  const auto gav = b.input("ga", F32, {3, 4});
  b.output(b.matmul(xv, b.initializer("m", m)), "matmul");
  GemmOptions gemm;
  gemm.alpha = 0.5f;
  gemm.beta = 2.0f;
  gemm.trans_b = true;
  const auto gbv = b.initializer("gb", gb);
  const auto gcv = b.initializer("gc", gc);
  b.output(b.gemm(gav, gbv, gcv, gemm), "gemm");
  const auto wv = b.initializer("w", w);
  const auto biasv = b.initializer("bias", bias);
  b.output(b.linear(xv, wv, biasv), "linear");
  b.output(b.linear(xv, wv, std::nullopt, "linear_nobias"), "linear_nobias");
  b.output(b.softmax(xv, 1), "softmax");
  b.output(b.log_softmax(xv, -1), "log_softmax");
  const auto outs = run(std::move(b).finish(), {{"x", x}, {"ga", ga}});
  const auto ref = torch_reference(R"(
save("matmul", x @ m)
save("gemm", 0.5 * ga @ gb.T + 2.0 * gc)
save("linear", F.linear(x, w, bias))
save("linear_nobias", F.linear(x, w))
save("softmax", F.softmax(x, dim=1))
save("log_softmax", F.log_softmax(x, dim=-1))
)",
                                   {{"x", x}, {"m", m}, {"ga", ga}, {"gb", gb}, {"gc", gc}, {"w", w}, {"bias", bias}});
  for (const char* name : {"matmul", "gemm", "linear", "linear_nobias", "softmax", "log_softmax"})
    expect_close(output(outs, name), ref, name);
}

TEST(GraphRunOps, ShapeManipulationMatchesTorch) {
  const Tensor x = random_tensor({2, 3, 4}, 40), x4 = random_tensor({1, 2, 4, 5}, 41), col = random_tensor({3, 1}, 42);
  Builder b;
  const auto xv = b.input("x", F32, {2, 3, 4});
  const auto x4v = b.input("x4", F32, {1, 2, 4, 5});
  const auto colv = b.input("col", F32, {3, 1});
  b.output(b.reshape(xv, std::vector<std::int64_t>{0, -1}), "reshape");
  b.output(b.transpose(xv, {2, 0, 1}), "transpose");
  b.output(b.concat({xv, b.mul(xv, 2.0)}, 1), "concat");
  const auto parts = b.split(xv, 2, {1, 3});
  b.output(parts[0], "split0");
  b.output(parts[1], "split1");
  const auto thirds = b.split_equal(xv, 1, 3);
  b.output(thirds[2], "third");
  b.output(b.slice(xv, {0, 1}, {2, 4}, {1, 2}, {1, 2}), "slice");
  b.output(b.slice(xv, {-1}, {std::numeric_limits<std::int64_t>::min()}, {2}, {-1}), "flip");
  b.output(b.squeeze(b.unsqueeze(xv, {0, 3}), {0}), "unsqueeze");
  b.output(b.flatten(xv, 2), "flatten");
  b.output(b.pad(xv, {0, 1, 0, 0, 0, 2}, "constant", 0.5), "pad_const");
  b.output(b.pad(x4v, {0, 0, 1, 2, 0, 0, 1, 2}, "reflect"), "pad_reflect");
  b.output(b.pad(x4v, {0, 0, 2, 1, 0, 0, 0, 3}, "edge"), "pad_edge");
  b.output(b.expand(colv, b.const_i64({2, 3, 4})), "expand");
  b.output(b.tile(xv, b.const_i64({1, 2, 1})), "tile");
  b.output(b.gather(xv, 1, 1), "gather_scalar");
  b.output(b.gather(xv, b.const_i64({3, 0}), 2), "gather_index");
  const auto outs = run(std::move(b).finish(), {{"x", x}, {"x4", x4}, {"col", col}});
  const auto ref = torch_reference(R"(
save("reshape", x.reshape(2, -1))
save("transpose", x.permute(2, 0, 1))
save("concat", torch.cat([x, 2 * x], 1))
save("split0", x[:, :, :1]); save("split1", x[:, :, 1:])
save("third", x[:, 2:3, :])
save("slice", x[:, 0:2, 1:4:2])
save("flip", x.flip(2))
save("unsqueeze", x.unsqueeze(2))
save("flatten", x.reshape(6, 4))
save("pad_const", F.pad(x, (0, 2, 1, 0), value=0.5))
save("pad_reflect", F.pad(x4, (2, 2, 1, 1), mode="reflect"))
save("pad_edge", F.pad(x4, (1, 3, 2, 0), mode="replicate"))
save("expand", col.expand(2, 3, 4))
save("tile", x.repeat(1, 2, 1))
save("gather_scalar", x[:, 1, :])
save("gather_index", x[:, :, [3, 0]])
)",
                                   {{"x", x}, {"x4", x4}, {"col", col}});
  for (const auto& [name, values] : ref.values) expect_close(output(outs, name), ref, name);
  EXPECT_EQ(ref.values.size(), 17u);
}

TEST(GraphRunOps, ResizeMatchesTorchInterpolate) {
  const Tensor x = random_tensor({1, 2, 5, 4}, 50), x3 = random_tensor({1, 1, 3, 4, 5}, 51);
  Builder b;
  const auto xv = b.input("x", F32, {1, 2, 5, 4});
  const auto x3v = b.input("x3", F32, {1, 1, 3, 4, 5});
  b.output(b.resize(xv, {1, 1, 2, 2}), "nearest2");
  b.output(b.resize(xv, {1, 1, 1, 1.5f}), "nearest15");
  b.output(b.resize(xv, {1, 1, 2, 2}, ResizeOptions::torch_linear(false)), "bilinear");
  b.output(b.resize_to(xv, std::vector<std::int64_t>{1, 2, 7, 9}, ResizeOptions::torch_linear(true)), "bilinear_ac");
  b.output(b.resize_to(x3v, std::vector<std::int64_t>{1, 1, 6, 5, 7}, ResizeOptions::torch_linear(false)),
           "trilinear");
  // Sizes computed in the graph from the input's own shape (dynamic-shape style).
  const auto sizes = b.concat({b.slice(b.shape(xv), {0}, {2}, {0}), b.const_i64({10, 8})}, 0);
  b.output(b.resize_to(xv, sizes), "nearest_dyn");
  const auto outs = run(std::move(b).finish(), {{"x", x}, {"x3", x3}});
  const auto ref = torch_reference(R"(
save("nearest2", F.interpolate(x, scale_factor=2, mode="nearest"))
save("nearest15", F.interpolate(x, scale_factor=(1, 1.5), mode="nearest"))
save("bilinear", F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
save("bilinear_ac", F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True))
save("trilinear", F.interpolate(x3, size=(6, 5, 7), mode="trilinear", align_corners=False))
save("nearest_dyn", F.interpolate(x, size=(10, 8), mode="nearest"))
)",
                                   {{"x", x}, {"x3", x3}});
  for (const auto& [name, values] : ref.values) expect_close(output(outs, name), ref, name);
  EXPECT_EQ(ref.values.size(), 6u);
}

TEST(GraphRunOps, PoolingAndReductionsMatchTorch) {
  const Tensor x = random_tensor({1, 2, 5, 6}, 60), x3 = random_tensor({1, 2, 4, 4, 6}, 61);
  Builder b;
  const auto xv = b.input("x", F32, {1, 2, 5, 6});
  const auto x3v = b.input("x3", F32, {1, 2, 4, 4, 6});
  PoolOptions avg;
  avg.kernel_shape = {3, 3};
  avg.strides = {2, 2};
  avg.pads = symmetric_pads({1, 1});
  b.output(b.avg_pool(xv, avg), "avg_excl");
  avg.count_include_pad = true;
  b.output(b.avg_pool(xv, avg, "avg_incl"), "avg_incl");
  PoolOptions maxp;
  maxp.kernel_shape = {2, 2};
  maxp.strides = {2, 2};
  maxp.ceil_mode = true;
  b.output(b.max_pool(xv, maxp), "max_ceil");
  PoolOptions dilated;
  dilated.kernel_shape = {2, 2};
  dilated.dilations = {2, 2};
  b.output(b.max_pool(xv, dilated, "max_dilated"), "max_dilated");
  PoolOptions avg3;
  avg3.kernel_shape = {2, 2, 2};
  avg3.strides = {2, 2, 2};
  b.output(b.avg_pool(x3v, avg3, "avg3d"), "avg3d");
  b.output(b.global_avg_pool(xv), "gap");
  b.output(b.reduce_mean(xv, {2, 3}), "mean");
  b.output(b.reduce_sum(xv, {1}, false), "sum");
  b.output(b.reduce_sum(xv, {}, false), "sum_all");
  b.output(b.reduce_max(xv, {-1}), "max");
  b.output(b.reduce("ReduceMin", xv, {1, 3}, false), "min");
  b.output(b.cast(b.argmax(xv, 1, false), F32), "argmax");
  const auto outs = run(std::move(b).finish(), {{"x", x}, {"x3", x3}});
  const auto ref = torch_reference(R"(
save("avg_excl", F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
save("avg_incl", F.avg_pool2d(x, 3, 2, 1, count_include_pad=True))
save("max_ceil", F.max_pool2d(x, 2, 2, ceil_mode=True))
save("max_dilated", F.max_pool2d(x, 2, 1, dilation=2))
save("avg3d", F.avg_pool3d(x3, 2, 2))
save("gap", x.mean((2, 3), keepdim=True))
save("mean", x.mean((2, 3), keepdim=True))
save("sum", x.sum(1))
save("sum_all", x.sum())
save("max", x.amax(-1, keepdim=True))
save("min", x.amin((1, 3)))
save("argmax", x.argmax(1).float())
)",
                                   {{"x", x}, {"x3", x3}});
  for (const auto& [name, values] : ref.values) expect_close(output(outs, name), ref, name);
  EXPECT_EQ(ref.values.size(), 12u);
}

TEST(GraphRunOps, TimestepEmbeddingAndShapeOpsByHand) {
  // guided-diffusion's timestep_embedding(t, dim=8): [cos(t f), sin(t f)], f_i = exp(-ln(1e4) i / 4).
  Builder b;
  const auto t = b.input("t", DType::I64, {"N"});
  const auto x = b.input("x", F32, {"N", 3, "H", "W"});
  const auto idx = b.range(b.scalar(0.0), b.scalar(4.0), b.scalar(1.0));
  const auto freqs = b.exp(b.mul(idx, -std::log(10000.0) / 4.0));
  const auto args = b.mul(b.unsqueeze(b.cast(t, F32), {1}), b.unsqueeze(freqs, {0}));
  b.output(b.concat({b.cos(args), b.sin(args)}, 1), "embedding", Dims{"N", 8});
  const auto shape = b.shape(x);
  b.output(b.gather(shape, 2), "height", Dims{});
  b.output(b.shape(x, 1, 3), "channels_height", Dims{2});
  b.output(b.constant_of_shape(b.slice(shape, {0}, {2}, {0}), 2.5), "filled", Dims{"N", 3});
  b.output(b.cast(b.const_f32({1.7f, -1.7f}, {2}), DType::I32), "truncated", Dims{2});
  b.output(b.mul(x, b.scalar_like(x, 0.0)), "zeros", Dims{"N", 3, "H", "W"});
  const std::vector<std::int64_t> tv{0, 7, 999};
  const auto outs = run(std::move(b).finish(),
                        {{"t", i64_values({3}, tv)}, {"x", Tensor::zeros(F32, {3, 3, 5, 2})}});
  std::vector<float> want;
  for (auto tt : tv)
    for (int part = 0; part < 2; ++part)
      for (int i = 0; i < 4; ++i) {
        const double arg = static_cast<double>(tt) * std::exp(-std::log(10000.0) * i / 4.0);
        want.push_back(static_cast<float>(part == 0 ? std::cos(arg) : std::sin(arg)));
      }
  expect_values(output(outs, "embedding"), {3, 8}, want, 2e-4f);
  const Tensor height = output(outs, "height");
  EXPECT_EQ(height.dtype(), DType::I64);
  EXPECT_EQ(height.shape(), Shape{});
  EXPECT_EQ(height.data<std::int64_t>()[0], 5);
  const Tensor ch = output(outs, "channels_height");
  EXPECT_EQ(ch.data<std::int64_t>()[0], 3);
  EXPECT_EQ(ch.data<std::int64_t>()[1], 5);
  expect_values(output(outs, "filled"), {3, 3}, std::vector<float>(9, 2.5f));
  const Tensor truncated = output(outs, "truncated");
  EXPECT_EQ(truncated.dtype(), DType::I32);
  EXPECT_EQ(truncated.data<std::int32_t>()[0], 1);
  EXPECT_EQ(truncated.data<std::int32_t>()[1], -1);
  EXPECT_EQ(output(outs, "zeros").shape(), (Shape{3, 3, 5, 2}));
}

}  // namespace
