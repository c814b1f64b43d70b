// Structure of the gradient graphs from graph::differentiate (no ONNX Runtime here: the values
// are checked against torch.autograd in test_graphrun_autodiff.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "medport/error.hpp"
#include "medport/graph/autodiff.hpp"
#include "medport/graph/builder.hpp"
#include "medport/graph/onnx_writer.hpp"

namespace {

using namespace medport;
using namespace medport::graph;

std::vector<std::string> output_names(const Graph& g) {
  std::vector<std::string> names;
  for (const auto& o : g.outputs) names.push_back(o.name);
  return names;
}

std::size_t count_ops(const Graph& g, const std::string& op) {
  return static_cast<std::size_t>(std::count_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.op_type == op; }));
}

// y = relu(x) * x + w, loss = sum(y); a second output "aux" = sigmoid(x).
Graph small_forward() {
  Builder b;
  const auto x = b.input("x", DType::F32, {2, 3});
  const auto other = b.input("other", DType::F32, {2, 3});
  const auto w = b.initializer("w", Tensor::from_f32({3}, std::vector<float>{1, 2, 3}));
  const auto y = b.add(b.mul(b.relu(x), x), w);
  b.output(b.sigmoid(other), "aux");
  b.output(b.reduce_sum(y, {}, false), "loss");
  return std::move(b).finish();
}

TEST(GraphAutodiff, OutputsLossForwardOutputsAndGradients) {
  const Graph g = differentiate(small_forward(), "loss", {"x", "other"});
  EXPECT_EQ(output_names(g), (std::vector<std::string>{"aux", "loss", "grad_x", "grad_other"}));
  EXPECT_EQ(g.inputs.size(), 2u);
  EXPECT_NO_THROW(check_onnx_bytes(to_model_bytes(g), "gradient graph"));
}

TEST(GraphAutodiff, OptionsDropForwardOutputsAndRenameGradients) {
  DifferentiateOptions o;
  o.keep_forward_outputs = false;
  o.grad_prefix = "d_";
  const Graph g = differentiate(small_forward(), "loss", {"x"}, o);
  EXPECT_EQ(output_names(g), (std::vector<std::string>{"loss", "d_x"}));
  EXPECT_NO_THROW(check_onnx_bytes(to_model_bytes(g), "gradient graph"));
}

TEST(GraphAutodiff, AccumulatesGradientsOfValuesUsedTwice) {
  // x feeds Relu and Mul: its two contributions are summed.
  const Graph g = differentiate(small_forward(), "loss", {"x"});
  EXPECT_GE(count_ops(g, "Sum"), 1u);
}

TEST(GraphAutodiff, SkipsValuesOffThePath) {
  const Graph forward = small_forward();
  const Graph g = differentiate(forward, "loss", {"x", "other"});
  // "other" only reaches "aux": its gradient is zeros and Sigmoid gets no VJP; w gets nothing.
  EXPECT_EQ(count_ops(g, "Sigmoid"), count_ops(forward, "Sigmoid"));
  const Node* grad_other = g.find_producer("grad_other");
  ASSERT_NE(grad_other, nullptr);
  const Node* source = grad_other->op_type == "Identity" ? g.find_producer(grad_other->inputs[0]) : grad_other;
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(source->op_type, "ConstantOfShape");
  for (const auto& o : g.outputs) EXPECT_NE(o.name, "grad_w");
}

TEST(GraphAutodiff, ShapeComputationsPassNoGradient) {
  Builder b;
  const auto x = b.input("x", DType::F32, {"N", 3});
  const auto flat = b.reshape(x, {-1});
  const auto big = b.greater(flat, b.scalar(0.0));
  const auto y = b.where(big, b.reshape(flat, b.shape(x)), x);
  b.output(b.reduce_sum(y, {}, false), "loss");
  const Graph g = differentiate(std::move(b).finish(), "loss", {"x"});
  EXPECT_NO_THROW(check_onnx_bytes(to_model_bytes(g), "gradient graph"));
}

TEST(GraphAutodiff, UnsupportedOpIsNamed) {
  Builder b;
  const auto x = b.input("x", DType::F32, {1, 1, 4, 4});
  PoolOptions p;
  p.kernel_shape = {2, 2};
  b.output(b.reduce_sum(b.max_pool(x, p), {}, false), "loss");
  const Graph forward = std::move(b).finish();
  try {
    differentiate(forward, "loss", {"x"});
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("MaxPool"), std::string::npos) << e.what();
  }
}

TEST(GraphAutodiff, RejectsBadNames) {
  const Graph forward = small_forward();
  EXPECT_THROW(differentiate(forward, "nope", {"x"}), UsageError);
  EXPECT_THROW(differentiate(forward, "loss", {"nope"}), UsageError);
  Builder b;
  const auto x = b.input("x", DType::F32, {2});
  const auto i = b.input("i", DType::I64, {2});
  b.output(b.reduce_sum(b.mul(x, b.cast(i, DType::F32)), {}, false), "loss");
  EXPECT_THROW(differentiate(std::move(b).finish(), "loss", {"i"}), UsageError);
}

TEST(GraphAutodiff, ConvWeightsAreSkippedUnlessAsked) {
  Builder b;
  const auto x = b.input("x", DType::F32, {1, 2, 5, 5});
  const auto w = b.initializer("w", Tensor::from_f32({3, 2, 3, 3}, std::vector<float>(54, 0.1f)));
  b.output(b.reduce_sum(b.conv(x, w, std::nullopt), {}, false), "loss");
  const Graph forward = std::move(b).finish();
  const Graph g = differentiate(forward, "loss", {"x"});
  // Stride 1 and a constant weight: dX is one Conv with the flipped weight, no weight gradient.
  EXPECT_EQ(count_ops(g, "ConvTranspose"), 0u);
  EXPECT_NO_THROW(check_onnx_bytes(to_model_bytes(g), "gradient graph"));
  EXPECT_EQ(count_ops(g, "Conv"), 2u);
  const Graph gw = differentiate(forward, "loss", {"w"});
  EXPECT_EQ(count_ops(gw, "ConvTranspose"), 0u);
  EXPECT_EQ(count_ops(gw, "Conv"), 2u);
}

TEST(GraphAutodiff, ListsDifferentiableOps) {
  const auto ops = differentiable_op_types();
  for (const char* op : {"Add", "Conv", "ConvTranspose", "InstanceNormalization", "Resize", "Softmax", "MatMul",
                         "Gemm", "Gather", "Slice", "Split", "Concat", "ReduceMean", "ReduceSum", "Clip", "Erf"})
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op;
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
}

}  // namespace
