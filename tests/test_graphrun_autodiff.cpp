// Gradient graphs from graph::differentiate, run in ONNX Runtime and compared with
// torch.autograd (float64, /usr/bin/python3 at test time). Every case weights its output with a
// random tensor R before summing, so the seed gradient is not uniform.
#include <cmath>

#include "medport/graph/autodiff.hpp"
#include "test_graphrun_support.hpp"

namespace {

using namespace graphrun;

constexpr auto F32 = DType::F32;
using Feeds = std::vector<std::pair<std::string, Tensor>>;

Tensor positive(Shape shape, std::uint32_t seed) { return random_tensor(std::move(shape), seed, 0.5f, 2.0f); }

// Adds "loss" = sum over the outputs k of sum(y_k * R_k); returns the torch lines for the same.
struct LossBuilder {
  Builder& b;
  Feeds& torch_tensors;
  std::vector<Value> terms;
  std::string torch_expr;
  std::uint32_t seed = 1000;

  void add(const Value& y, const Shape& shape, const std::string& torch_value) {
    const std::string r = "R" + std::to_string(terms.size());
    const Tensor rt = random_tensor(shape, seed++);
    torch_tensors.push_back({r, rt});
    terms.push_back(b.reduce_sum(b.mul(y, b.initializer(r, rt)), {}, false));
    torch_expr += (torch_expr.empty() ? "" : " + ") + std::string("((") + torch_value + ") * " + r + ").sum()";
  }
  void finish() {
    Value loss = terms.front();
    for (std::size_t i = 1; i < terms.size(); ++i) loss = b.add(loss, terms[i]);
    b.output(loss, "loss");
  }
};

// Differentiates `forward` wrt `wrt`, runs it on `feeds` and compares loss and gradients with
// torch. `torch_tensors` are every tensor the torch code names (inputs, weights, R*).
void expect_gradients(const Graph& forward, const std::vector<std::string>& wrt, const Feeds& feeds,
                      const Feeds& torch_tensors, const std::string& torch_setup, const std::string& torch_loss,
                      float atol = 2e-5f) {
  const Graph g = differentiate(forward, "loss", wrt);
  const auto bytes = to_model_bytes(g);
  EXPECT_NO_THROW(check_onnx_bytes(bytes, "gradient graph"));
  std::vector<NamedTensor> inputs;
  for (const auto& [n, t] : feeds) inputs.push_back({n, t});
  runtime::Session session(bytes, one_thread());
  const auto outs = session.run(inputs);

  std::string script = "torch.set_grad_enabled(True)\n";
  for (const auto& [n, t] : torch_tensors) {
    const bool w = std::find(wrt.begin(), wrt.end(), n) != wrt.end();
    script += n + " = " + n + ".double()" + (w ? ".requires_grad_(True)" : "") + "\n";
  }
  script += torch_setup + "\nloss = " + torch_loss + "\nsave('loss', loss)\n";
  script += "_g = torch.autograd.grad(loss, [";
  for (const auto& w : wrt) script += w + ", ";
  script += "], allow_unused=True)\n";
  for (std::size_t i = 0; i < wrt.size(); ++i)
    script += "save('grad_" + wrt[i] + "', _g[" + std::to_string(i) + "] if _g[" + std::to_string(i) +
              "] is not None else torch.zeros_like(" + wrt[i] + "))\n";
  const auto ref = torch_reference(script, torch_tensors);
  expect_close(output(outs, "loss"), ref, "loss", 1e-4f, 1e-4f);
  for (const auto& w : wrt) expect_close(output(outs, "grad_" + w), ref, "grad_" + w, atol, 1e-4f);
}

TEST(GraphRunAutodiff, BroadcastArithmeticWithDynamicBatch) {
  const Tensor x = random_tensor({2, 3, 4}, 1), y = positive({3, 1}, 2), z = random_tensor({4}, 3);
  Feeds torch_tensors{{"x", x}, {"y", y}, {"z", z}};
  Builder b;
  const auto xv = b.input("x", F32, {"N", 3, 4});
  const auto yv = b.input("y", F32, {3, 1});
  const auto zv = b.input("z", F32, {4});
  LossBuilder loss{b, torch_tensors, {}, {}};
  loss.add(b.add(xv, yv), {2, 3, 4}, "x + y");
  loss.add(b.sub(zv, xv), {2, 3, 4}, "z - x");
  loss.add(b.mul(xv, yv), {2, 3, 4}, "x * y");
  loss.add(b.div(zv, yv), {3, 4}, "z / y");
  loss.add(b.div(xv, b.add(yv, zv)), {2, 3, 4}, "x / (y + z)");
  loss.add(b.neg(b.mul(xv, xv)), {2, 3, 4}, "-(x * x)");
  loss.add(b.pow(yv, 2.5), {3, 1}, "y ** 2.5");
  loss.add(b.pow(yv, b.add(zv, 1.5)), {3, 4}, "y ** (z + 1.5)");
  loss.add(b.concat({xv, b.mul(xv, yv)}, 0), {4, 3, 4}, "torch.cat([x, x * y], 0)");
  // Shapes computed at run time from a value on the gradient path pass no gradient themselves.
  loss.add(b.reshape(b.mul(b.reshape(xv, {-1}), 2.0), b.shape(xv)), {2, 3, 4}, "2 * x");
  loss.finish();
  expect_gradients(std::move(b).finish(), {"x", "y", "z"}, {{"x", x}, {"y", y}, {"z", z}}, torch_tensors, "",
                   loss.torch_expr);
}

TEST(GraphRunAutodiff, UnaryOpsMatchTorch) {
  const Tensor x = random_tensor({2, 5}, 4, -2.0f, 2.0f), p = positive({2, 5}, 5);
  Feeds torch_tensors{{"x", x}, {"p", p}};
  Builder b;
  const auto xv = b.input("x", F32, {2, 5});
  const auto pv = b.input("p", F32, {2, 5});
  LossBuilder loss{b, torch_tensors, {}, {}};
  const Shape s{2, 5};
  loss.add(b.exp(xv), s, "torch.exp(x)");
  loss.add(b.log(pv), s, "torch.log(p)");
  loss.add(b.sqrt(pv), s, "torch.sqrt(p)");
  loss.add(b.sigmoid(xv), s, "torch.sigmoid(x)");
  loss.add(b.tanh(xv), s, "torch.tanh(x)");
  loss.add(b.relu(xv), s, "torch.relu(x)");
  loss.add(b.leaky_relu(xv, 0.1f), s, "F.leaky_relu(x, 0.1)");
  loss.add(b.clip(xv, -0.5, 0.7), s, "torch.clamp(x, -0.5, 0.7)");
  loss.add(b.clip(xv, std::nullopt, 0.3), s, "torch.clamp(x, max=0.3)");
  loss.add(b.erf(xv), s, "torch.erf(x)");
  loss.add(b.gelu(xv), s, "F.gelu(x)");
  loss.add(b.silu(xv), s, "F.silu(x)");
  loss.add(b.sin(xv), s, "torch.sin(x)");
  loss.add(b.cos(xv), s, "torch.cos(x)");
  loss.add(b.abs(xv), s, "torch.abs(x)");
  loss.add(b.reciprocal(pv), s, "1 / p");
  loss.add(b.identity(xv), s, "x");
  loss.add(b.cast(b.mul(b.cast(xv, DType::F64), b.cast(pv, DType::F64)), F32), s, "x * p");
  loss.finish();
  expect_gradients(std::move(b).finish(), {"x", "p"}, {{"x", x}, {"p", p}}, torch_tensors, "", loss.torch_expr);
}

TEST(GraphRunAutodiff, MatMulGemmSoftmaxMatchTorch) {
  const Tensor a = random_tensor({2, 1, 3, 4}, 6), m = random_tensor({5, 4, 2}, 7);
  const Tensor ga = random_tensor({3, 4}, 8), gb = random_tensor({5, 4}, 9), gc = random_tensor({5}, 10);
  const Tensor gt = random_tensor({4, 3}, 11), s = random_tensor({2, 3, 6}, 12, -2.0f, 2.0f);
  Feeds torch_tensors{{"a", a}, {"m", m}, {"ga", ga}, {"gb", gb}, {"gc", gc}, {"gt", gt}, {"s", s}};
  Builder b;
  const auto av = b.input("a", F32, {2, 1, 3, 4});
  const auto mv = b.input("m", F32, {5, 4, 2});
  const auto gav = b.input("ga", F32, {3, 4});
  const auto gbv = b.input("gb", F32, {5, 4});
  const auto gcv = b.input("gc", F32, {5});
  const auto gtv = b.input("gt", F32, {4, 3});
  const auto sv = b.input("s", F32, {2, 3, 6});
  LossBuilder loss{b, torch_tensors, {}, {}};
  loss.add(b.matmul(av, mv), {2, 5, 3, 2}, "torch.matmul(a, m)");
  GemmOptions o;
  o.alpha = 0.5f;
  o.beta = 2.0f;
  o.trans_b = true;
  loss.add(b.gemm(gav, gbv, gcv, o), {3, 5}, "0.5 * ga @ gb.T + 2 * gc");
  GemmOptions t;
  t.trans_a = true;
  loss.add(b.gemm(gtv, b.transpose(gbv, {1, 0}), std::nullopt, t), {3, 5}, "gt.T @ gb.T");
  loss.add(b.softmax(sv, -1), {2, 3, 6}, "torch.softmax(s, -1)");
  loss.add(b.softmax(sv, 1), {2, 3, 6}, "torch.softmax(s, 1)");
  loss.add(b.log_softmax(sv, 2), {2, 3, 6}, "torch.log_softmax(s, 2)");
  loss.finish();
  expect_gradients(std::move(b).finish(), {"a", "m", "ga", "gb", "gc", "gt", "s"},
                   {{"a", a}, {"m", m}, {"ga", ga}, {"gb", gb}, {"gc", gc}, {"gt", gt}, {"s", s}}, torch_tensors, "",
                   loss.torch_expr);
}

TEST(GraphRunAutodiff, ConvolutionsMatchTorch) {
  const Tensor x = random_tensor({1, 4, 9, 8}, 13), w = random_tensor({6, 2, 3, 3}, 14), bias = random_tensor({6}, 15);
  const Tensor x3 = random_tensor({1, 2, 6, 7, 5}, 16), w3 = random_tensor({3, 2, 3, 3, 3}, 17);
  const Tensor wt = random_tensor({4, 2, 3, 3}, 18), wt3 = random_tensor({2, 2, 2, 2, 2}, 19);
  const Tensor bt = random_tensor({4}, 20);
  Feeds torch_tensors{{"x", x}, {"w", w}, {"bias", bias}, {"x3", x3}, {"w3", w3}, {"wt", wt}, {"wt3", wt3}, {"bt", bt}};
  Builder b;
  const auto xv = b.input("x", F32, {1, 4, 9, 8});
  const auto x3v = b.input("x3", F32, {1, 2, 6, 7, 5});
  LossBuilder loss{b, torch_tensors, {}, {}};
  ConvOptions grouped;
  grouped.strides = {2, 1};
  grouped.pads = {1, 0, 2, 1};
  grouped.dilations = {1, 2};
  grouped.groups = 2;
  loss.add(b.conv(xv, b.initializer("w", w), b.initializer("bias", bias), grouped), {1, 6, 5, 5},
           "F.conv2d(F.pad(x, (0, 1, 1, 2)), w, bias, stride=(2, 1), dilation=(1, 2), groups=2)");
  const Tensor wg = random_tensor({3, 4, 3, 2}, 60);
  torch_tensors.push_back({"wg", wg});
  ConvOptions dilated;
  dilated.strides = {2, 3};
  dilated.pads = {1, 0, 2, 1};
  dilated.dilations = {2, 1};
  loss.add(b.conv(xv, b.initializer("wg", wg), std::nullopt, dilated), {1, 3, 4, 3},
           "F.conv2d(F.pad(x, (0, 1, 1, 2)), wg, stride=(2, 3), dilation=(2, 1))");
  ConvOptions strided3d;
  strided3d.strides = {2, 2, 2};
  strided3d.pads = symmetric_pads({1, 1, 1});
  loss.add(b.conv(x3v, b.initializer("w3", w3), std::nullopt, strided3d), {1, 3, 3, 4, 3},
           "F.conv3d(x3, w3, None, stride=2, padding=1)");
  ConvTransposeOptions up;
  up.strides = {2, 2};
  up.pads = symmetric_pads({1, 1});
  up.output_padding = {1, 0};
  up.groups = 2;
  loss.add(b.conv_transpose(xv, b.initializer("wt", wt), b.initializer("bt", bt), up), {1, 4, 18, 15},
           "F.conv_transpose2d(x, wt, bt, stride=2, padding=1, output_padding=(1, 0), groups=2)");
  const Tensor wt1 = random_tensor({4, 3, 3, 2}, 61);
  torch_tensors.push_back({"wt1", wt1});
  ConvTransposeOptions spread;
  spread.strides = {2, 3};
  spread.pads = symmetric_pads({1, 1});
  spread.output_padding = {1, 2};
  spread.dilations = {1, 2};
  loss.add(b.conv_transpose(xv, b.initializer("wt1", wt1), std::nullopt, spread), {1, 3, 18, 24},
           "F.conv_transpose2d(x, wt1, stride=(2, 3), padding=1, output_padding=(1, 2), dilation=(1, 2))");
  ConvTransposeOptions up3;
  up3.strides = {2, 2, 2};
  loss.add(b.conv_transpose(x3v, b.initializer("wt3", wt3), std::nullopt, up3), {1, 2, 12, 14, 10},
           "F.conv_transpose3d(x3, wt3, stride=2)");
  loss.finish();
  expect_gradients(std::move(b).finish(), {"x", "x3", "bias", "bt", "wg", "w3", "wt1", "wt3"}, {{"x", x}, {"x3", x3}}, torch_tensors, "",
                   loss.torch_expr, 5e-5f);
}

// Stride 1, group 1, constant weights: dX comes from a Conv with the flipped weight (asymmetric
// pads, dilation, non-square kernels, 2-D and 3-D; one weight also differentiated).
TEST(GraphRunAutodiff, StrideOneConvolutionsMatchTorch) {
  const Tensor x = random_tensor({2, 3, 7, 6}, 70), w = random_tensor({5, 3, 3, 2}, 71);
  const Tensor x3 = random_tensor({1, 4, 5, 6, 4}, 72), w3 = random_tensor({2, 4, 3, 3, 3}, 73);
  const Tensor w1 = random_tensor({3, 4, 1, 1, 1}, 74);
  Feeds torch_tensors{{"x", x}, {"w", w}, {"x3", x3}, {"w3", w3}, {"w1", w1}};
  Builder b;
  const auto xv = b.input("x", F32, {2, 3, 7, 6});
  const auto x3v = b.input("x3", F32, {1, 4, 5, 6, 4});
  LossBuilder loss{b, torch_tensors, {}, {}};
  ConvOptions uneven;
  uneven.pads = {2, 0, 1, 1};
  uneven.dilations = {2, 1};
  loss.add(b.conv(xv, b.initializer("w", w), std::nullopt, uneven), {2, 5, 6, 6},
           "F.conv2d(F.pad(x, (0, 1, 2, 1)), w, dilation=(2, 1))");
  ConvOptions same;
  same.pads = symmetric_pads({1, 1, 1});
  loss.add(b.conv(x3v, b.initializer("w3", w3), std::nullopt, same), {1, 2, 5, 6, 4}, "F.conv3d(x3, w3, padding=1)");
  loss.add(b.conv(x3v, b.initializer("w1", w1), std::nullopt), {1, 3, 5, 6, 4}, "F.conv3d(x3, w1)");
  loss.finish();
  expect_gradients(std::move(b).finish(), {"x", "x3", "w3"}, {{"x", x}, {"x3", x3}}, torch_tensors, "",
                   loss.torch_expr, 5e-5f);
}

TEST(GraphRunAutodiff, InstanceNormMatchesTorch) {
  const Tensor x = random_tensor({2, 3, 5, 4}, 21, -2.0f, 3.0f), s = random_tensor({3}, 22), bias = random_tensor({3}, 23);
  const Tensor x3 = random_tensor({1, 2, 4, 3, 5}, 24), s2 = positive({2}, 25), b2 = random_tensor({2}, 26);
  Feeds torch_tensors{{"x", x}, {"s", s}, {"bias", bias}, {"x3", x3}, {"s2", s2}, {"b2", b2}};
  Builder b;
  const auto xv = b.input("x", F32, {2, 3, 5, 4});
  const auto x3v = b.input("x3", F32, {1, 2, 4, 3, 5});
  LossBuilder loss{b, torch_tensors, {}, {}};
  loss.add(b.instance_norm(xv, b.initializer("s", s), b.initializer("bias", bias)), {2, 3, 5, 4},
           "F.instance_norm(x, weight=s, bias=bias, eps=1e-5)");
  loss.add(b.instance_norm(x3v, b.initializer("s2", s2), b.initializer("b2", b2), 1e-3f), {1, 2, 4, 3, 5},
           "F.instance_norm(x3, weight=s2, bias=b2, eps=1e-3)");
  loss.finish();
  expect_gradients(std::move(b).finish(), {"x", "s", "bias", "x3"}, {{"x", x}, {"x3", x3}}, torch_tensors, "",
                   loss.torch_expr, 5e-5f);
}

TEST(GraphRunAutodiff, ShapeOpsMatchTorch) {
  const Tensor x = random_tensor({2, 3, 4}, 27), y = random_tensor({2, 2, 4}, 28), v = random_tensor({3, 1}, 29);
  const Tensor cond_src = random_tensor({2, 3, 4}, 30);
  Feeds torch_tensors{{"x", x}, {"y", y}, {"v", v}, {"cond_src", cond_src}};
  Builder b;
  const auto xv = b.input("x", F32, {2, 3, 4});
  const auto yv = b.input("y", F32, {2, 2, 4});
  const auto vv = b.input("v", F32, {3, 1});
  LossBuilder loss{b, torch_tensors, {}, {}};
  loss.add(b.reshape(xv, {4, -1}), {4, 6}, "x.reshape(4, 6)");
  loss.add(b.transpose(xv, {2, 0, 1}), {4, 2, 3}, "x.permute(2, 0, 1)");
  loss.add(b.op1("Transpose", {xv}), {4, 3, 2}, "x.permute(2, 1, 0)");
  loss.add(b.concat({xv, yv, xv}, 1), {2, 8, 4}, "torch.cat([x, y, x], 1)");
  const auto parts = b.split(xv, -1, {1, 3});
  loss.add(parts[1], {2, 3, 3}, "x[:, :, 1:]");
  loss.add(b.mul(parts[0], 3.0), {2, 3, 1}, "3 * x[:, :, :1]");
  loss.add(b.slice(xv, {1, -3}, {3, 100}, {1, 2}), {2, 2, 3}, "x[:, 1:3, 1:]");
  loss.add(b.unsqueeze(b.squeeze(b.slice(yv, {1}, {2}, {1}), {1}), {0}), {1, 2, 4}, "y[:, 1:2].squeeze(1).unsqueeze(0)");
  loss.add(b.flatten(xv, 1), {2, 12}, "x.flatten(1)");
  loss.add(b.expand(vv, b.const_i64({2, 3, 4})), {2, 3, 4}, "v.expand(2, 3, 4)");
  loss.add(b.tile(vv, b.const_i64({2, 3})), {6, 3}, "v.repeat(2, 3)");
  const auto cond = b.greater(b.initializer("cond_src", cond_src), b.scalar(0.0));
  loss.add(b.where(cond, xv, b.mul(vv, 2.0)), {2, 3, 4}, "torch.where(cond_src > 0, x, 2 * v)");
  loss.add(b.gather(xv, b.const_i64({2, 0, 2, 3}), 2), {2, 3, 4}, "x[:, :, [2, 0, 2, 3]]");
  loss.add(b.gather(xv, 1, 1), {2, 4}, "x[:, 1]");
  loss.add(b.reduce_mean(xv, {1}, true), {2, 1, 4}, "x.mean(1, keepdim=True)");
  loss.add(b.reduce_mean(xv, {0, -1}, false), {3}, "x.mean((0, 2))");
  loss.add(b.reduce_sum(yv, {1}, false), {2, 4}, "y.sum(1)");
  loss.add(b.reduce_sum(yv, {2}, true), {2, 2, 1}, "y.sum(2, keepdim=True)");
  loss.add(b.reduce_mean(yv, {}, false), {}, "y.mean()");
  loss.finish();
  expect_gradients(std::move(b).finish(), {"x", "y", "v"}, {{"x", x}, {"y", y}, {"v", v}}, torch_tensors, "",
                   loss.torch_expr);
}

TEST(GraphRunAutodiff, ResizeMatchesTorch) {
  const Tensor x = random_tensor({1, 2, 3, 4}, 31), x3 = random_tensor({1, 2, 3, 4, 2}, 32);
  Feeds torch_tensors{{"x", x}, {"x3", x3}};
  Builder b;
  const auto xv = b.input("x", F32, {1, 2, 3, 4});
  const auto x3v = b.input("x3", F32, {1, 2, 3, 4, 2});
  LossBuilder loss{b, torch_tensors, {}, {}};
  loss.add(b.resize(xv, {1, 1, 2, 2}, ResizeOptions::torch_nearest()), {1, 2, 6, 8},
           "F.interpolate(x, scale_factor=2, mode='nearest')");
  loss.add(b.resize(x3v, {1, 1, 2, 2, 2}, ResizeOptions::torch_nearest()), {1, 2, 6, 8, 4},
           "F.interpolate(x3, scale_factor=2, mode='nearest')");
  loss.add(b.resize(x3v, {1, 1, 2, 2, 2}, ResizeOptions::torch_linear(false)), {1, 2, 6, 8, 4},
           "F.interpolate(x3, scale_factor=2, mode='trilinear', align_corners=False)");
  loss.add(b.resize(xv, {1, 1, 2, 2}, ResizeOptions::torch_linear(false)), {1, 2, 6, 8},
           "F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)");
  loss.add(b.resize_to(xv, {1, 2, 7, 5}, ResizeOptions::torch_linear(true)), {1, 2, 7, 5},
           "F.interpolate(x, size=(7, 5), mode='bilinear', align_corners=True)");
  loss.add(b.resize_to(xv, {1, 2, 5, 7}, ResizeOptions::torch_linear(false)), {1, 2, 5, 7},
           "F.interpolate(x, size=(5, 7), mode='bilinear', align_corners=False)");
  loss.add(b.resize_to(xv, {1, 2, 2, 2}, ResizeOptions::torch_linear(false)), {1, 2, 2, 2},
           "F.interpolate(x, size=(2, 2), mode='bilinear', align_corners=False)");
  loss.finish();
  expect_gradients(std::move(b).finish(), {"x", "x3"}, {{"x", x}, {"x3", x3}}, torch_tensors, "", loss.torch_expr);
}

// An IRIS-like decoder step: conv-transpose + conv + instance norm + leaky ReLU, FiLM from the
// task embedding, multi-head cross-attention to the embedding tokens, 1x1x1 head, trilinear
// upsampling, sigmoid and Dice + BCE against a mask; gradient with respect to the embedding.
TEST(GraphRunAutodiff, IrisLikeDecoderLossMatchesTorch) {
  const Tensor emb = random_tensor({1, 2, 8}, 40), x = random_tensor({1, 4, 4, 4, 4}, 41);
  const Tensor wt = random_tensor({4, 4, 2, 2, 2}, 42, -0.5f, 0.5f), w1 = random_tensor({8, 4, 3, 3, 3}, 43, -0.3f, 0.3f);
  const Tensor s8 = positive({8}, 44), b8 = random_tensor({8}, 45), wf = random_tensor({16, 8}, 46, -0.5f, 0.5f);
  const Tensor bf = random_tensor({16}, 47, -0.2f, 0.2f), wk = random_tensor({8, 8}, 48), wv = random_tensor({8, 8}, 49);
  const Tensor w2 = random_tensor({1, 8, 1, 1, 1}, 50);
  const Tensor mask_src = random_tensor({1, 1, 16, 16, 16}, 51);
  std::vector<float> mask_values = mask_src.to_f32();
  for (auto& v : mask_values) v = v > 0.0f ? 1.0f : 0.0f;
  const Tensor mask = Tensor::from_f32({1, 1, 16, 16, 16}, mask_values);
  Feeds torch_tensors{{"emb", emb}, {"x", x},   {"wt", wt}, {"w1", w1}, {"s8", s8}, {"b8", b8},
                      {"wf", wf},   {"bf", bf}, {"wk", wk}, {"wv", wv}, {"w2", w2}, {"mask", mask}};
  Builder b;
  const auto ev = b.input("emb", F32, {1, 2, 8});
  const auto xv = b.input("x", F32, {1, 4, 4, 4, 4});
  const auto mv = b.input("mask", F32, {1, 1, 16, 16, 16});
  ConvTransposeOptions up;
  up.strides = {2, 2, 2};
  auto h = b.conv_transpose(xv, b.initializer("wt", wt), std::nullopt, up);
  ConvOptions same;
  same.pads = symmetric_pads({1, 1, 1});
  h = b.conv(h, b.initializer("w1", w1), std::nullopt, same);
  h = b.leaky_relu(b.instance_norm(h, b.initializer("s8", s8), b.initializer("b8", b8)), 0.01f);
  GemmOptions film;
  film.trans_b = true;
  const auto gb = b.gemm(b.reduce_mean(ev, {1}, false), b.initializer("wf", wf), b.initializer("bf", bf), film);
  const auto gamma_beta = b.split(gb, 1, {8, 8});
  const auto gamma = b.reshape(gamma_beta[0], {1, 8, 1, 1, 1});
  const auto beta = b.reshape(gamma_beta[1], {1, 8, 1, 1, 1});
  h = b.add(b.mul(h, b.add(gamma, 1.0)), beta);
  const auto q = b.transpose(b.reshape(b.transpose(b.reshape(h, {1, 8, 512}), {0, 2, 1}), {1, 512, 2, 4}), {0, 2, 1, 3});
  const auto k = b.transpose(b.reshape(b.matmul(ev, b.initializer("wk", wk)), {1, 2, 2, 4}), {0, 2, 3, 1});
  const auto v = b.transpose(b.reshape(b.matmul(ev, b.initializer("wv", wv)), {1, 2, 2, 4}), {0, 2, 1, 3});
  const auto attn = b.softmax(b.div(b.matmul(q, k), 2.0), -1);
  const auto o = b.reshape(b.transpose(b.matmul(attn, v), {0, 2, 1, 3}), {1, 512, 8});
  h = b.add(h, b.reshape(b.transpose(o, {0, 2, 1}), {1, 8, 8, 8, 8}));
  auto logits = b.conv(h, b.initializer("w2", w2), std::nullopt);
  logits = b.resize(logits, {1, 1, 2, 2, 2}, ResizeOptions::torch_linear(false));
  const auto p = b.sigmoid(logits);
  const auto inter = b.reduce_sum(b.mul(p, mv), {}, false);
  const auto denom = b.add(b.add(b.reduce_sum(p, {}, false), b.reduce_sum(mv, {}, false)), 1.0);
  const auto dice = b.sub(b.scalar(1.0), b.div(b.add(b.mul(inter, 2.0), 1.0), denom));
  const auto one_minus_m = b.sub(b.scalar(1.0), mv);
  const auto log_p = b.log(b.clip(p, 1e-6, 1.0));
  const auto log_q = b.log(b.clip(b.sub(b.scalar(1.0), p), 1e-6, 1.0));
  const auto bce = b.neg(b.reduce_mean(b.add(b.mul(mv, log_p), b.mul(one_minus_m, log_q)), {}, false));
  b.output(b.add(dice, bce), "loss");
  const std::string setup = R"(
h = F.conv_transpose3d(x, wt, stride=2)
h = F.conv3d(h, w1, padding=1)
h = F.leaky_relu(F.instance_norm(h, weight=s8, bias=b8, eps=1e-5), 0.01)
gb = F.linear(emb.mean(1), wf, bf)
gamma, beta = gb[:, :8].reshape(1, 8, 1, 1, 1), gb[:, 8:].reshape(1, 8, 1, 1, 1)
h = h * (gamma + 1) + beta
q = h.reshape(1, 8, 512).transpose(1, 2).reshape(1, 512, 2, 4).permute(0, 2, 1, 3)
k = (emb @ wk).reshape(1, 2, 2, 4).permute(0, 2, 3, 1)
v = (emb @ wv).reshape(1, 2, 2, 4).permute(0, 2, 1, 3)
o = (torch.softmax((q @ k) / 2.0, -1) @ v).permute(0, 2, 1, 3).reshape(1, 512, 8)
h = h + o.transpose(1, 2).reshape(1, 8, 8, 8, 8)
logits = F.interpolate(F.conv3d(h, w2), scale_factor=2, mode='trilinear', align_corners=False)
p = torch.sigmoid(logits)
dice = 1 - (2 * (p * mask).sum() + 1) / (p.sum() + mask.sum() + 1)
bce = -(mask * torch.log(torch.clamp(p, 1e-6, 1.0)) + (1 - mask) * torch.log(torch.clamp(1 - p, 1e-6, 1.0))).mean()
)";
  expect_gradients(std::move(b).finish(), {"emb"}, {{"emb", emb}, {"x", x}, {"mask", mask}}, torch_tensors, setup,
                   "dice + bce", 1e-6f);
}

}  // namespace
