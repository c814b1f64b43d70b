// Graph IR and Builder: names, scopes, dtypes, opset-dependent op forms, validation.
#include <algorithm>

#include "medport/error.hpp"
#include "medport/graph/builder.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::graph;

const Node& node_named(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes)
    if (n.name == name) return n;
  throw std::runtime_error("no node " + name);
}

std::vector<std::string> op_types(const Graph& g) {
  std::vector<std::string> ops;
  for (const auto& n : g.nodes) ops.push_back(n.op_type);
  return ops;
}

Tensor weight(Shape shape) { return Tensor::zeros(DType::F32, std::move(shape)); }

TEST(GraphBuilder, ScopedNamesAreReadableAndUnique) {
  Builder b("net");
  auto x = b.input("image", DType::F32, {"N", 1, "H", "W"});
  Value y;
  {
    auto enc = b.scope("encoder");
    auto stage = b.scope("stages.0");
    EXPECT_EQ(b.prefix(), "encoder.stages.0");
    auto w = b.initializer("encoder.stages.0.conv.weight", weight({4, 1, 3, 3}));
    ConvOptions same;
    same.pads = symmetric_pads({1, 1});
    y = b.conv(x, w, std::nullopt, same);
    y = b.conv(y, b.initializer("encoder.stages.0.conv.weight", weight({4, 4, 3, 3})), std::nullopt);
  }
  EXPECT_EQ(b.prefix(), "");
  y = b.relu(y);
  b.output(y, "logits");
  const Graph g = std::move(b).finish();
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[0].name, "encoder.stages.0.conv");
  EXPECT_EQ(g.nodes[0].outputs[0], "encoder.stages.0.conv");
  EXPECT_EQ(g.nodes[1].name, "encoder.stages.0.conv_1");
  EXPECT_EQ(g.nodes[2].name, "relu");
  EXPECT_EQ(g.nodes[3].op_type, "Identity");
  EXPECT_EQ(g.nodes[3].outputs[0], "logits");
  // A second initializer with a taken name gets a suffix instead of silently aliasing.
  EXPECT_EQ(g.initializers[1].name, "encoder.stages.0.conv.weight_1");
  EXPECT_EQ(g.nodes[1].inputs[1], "encoder.stages.0.conv.weight_1");
  // kernel_shape comes from the weight; pads are begins then ends.
  EXPECT_EQ(g.nodes[0].find_attribute("kernel_shape")->ints, (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(g.nodes[0].find_attribute("pads")->ints, (std::vector<std::int64_t>{1, 1, 1, 1}));
  ASSERT_TRUE(g.inputs[0].shape.has_value());
  EXPECT_TRUE((*g.inputs[0].shape)[0].is_symbolic());
  EXPECT_EQ((*g.inputs[0].shape)[1].value, 1);
}

TEST(GraphBuilder, InitializersShareTheCheckpointStorage) {
  const Tensor base = Tensor::from_f32({2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  const Tensor view(base.storage(), 3, {3}, {1});  // second row, as a checkpoint view would be
  Builder b;
  b.initializer("row", view);
  const Graph& g = b.graph();
  EXPECT_EQ(g.initializers[0].tensor.storage().get(), base.storage().get());
  EXPECT_EQ(g.initializers[0].tensor.offset(), 3);
  EXPECT_EQ(g.initializer_bytes(), 12u);
}

TEST(GraphBuilder, MultiOutputNodesNumberTheirValues) {
  Builder b;
  auto x = b.input("x", DType::F32, {2, 6});
  auto parts = b.split(x, 1, {2, 4}, "qkv");
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].name(), "qkv.0");
  EXPECT_EQ(parts[1].name(), "qkv.1");
  const auto& split = b.graph().nodes.back();
  EXPECT_EQ(split.op_type, "Split");
  ASSERT_EQ(split.inputs.size(), 2u);
  EXPECT_EQ(b.graph().find_initializer(split.inputs[1])->tensor.dtype(), DType::I64);
}

TEST(GraphBuilder, TracksElementTypes) {
  Builder b;
  auto x = b.input("x", DType::F32, {3});
  EXPECT_EQ(b.cast(x, DType::F16).dtype(), DType::F16);
  EXPECT_EQ(b.shape(x).dtype(), DType::I64);
  EXPECT_EQ(b.equal(x, x).dtype(), DType::Bool);
  EXPECT_EQ(b.argmax(x, 0).dtype(), DType::I64);
  EXPECT_EQ(b.where(b.less(x, x), x, x).dtype(), DType::F32);
  EXPECT_EQ(b.constant_of_shape(b.shape(x), 1.0, DType::I32).dtype(), DType::I32);
  const auto h = b.cast(x, DType::F16);
  // Scalars follow the left operand's type.
  const auto y = b.mul(h, 0.5);
  EXPECT_EQ(y.dtype(), DType::F16);
  EXPECT_EQ(b.graph().find_initializer(b.graph().nodes.back().inputs[1])->tensor.dtype(), DType::F16);
  const auto types = infer_dtypes(b.graph());
  EXPECT_EQ(types.at(y.name()), DType::F16);
}

TEST(GraphBuilder, GroupNormIsAFloat32Decomposition) {
  Builder b;
  auto x = b.input("x", DType::F16, {1, 4, 2, 2});
  auto s = b.initializer("gn.weight", weight({4}));
  auto t = b.initializer("gn.bias", weight({4}));
  auto y = b.group_norm(x, 2, s, t, 1e-5f, "norm1");
  EXPECT_EQ(y.dtype(), DType::F16);
  const Graph& g = b.graph();
  const auto ops = op_types(g);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "InstanceNormalization"), 1);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Reshape"), 5);  // groups, channels, scale, bias, back
  EXPECT_EQ(ops.front(), "Cast");
  EXPECT_EQ(ops.back(), "Cast");
  for (const auto& n : g.nodes) {
    EXPECT_TRUE(n.keep_fp32) << n.name;
    EXPECT_EQ(n.name.rfind("norm1.", 0), 0u) << n.name;
  }
  const auto& norm = node_named(g, "norm1.norm");
  EXPECT_EQ(g.find_initializer(norm.inputs[1])->tensor.shape(), (Shape{2}));
}

TEST(GraphBuilder, ReductionFormsFollowTheOpset) {
  Builder b17("g", 17);
  auto x = b17.input("x", DType::F32, {2, 3});
  b17.reduce_mean(x, {1});
  b17.reduce_sum(x, {1});
  const auto& mean17 = b17.graph().nodes[0];
  const auto& sum17 = b17.graph().nodes[1];
  EXPECT_EQ(mean17.inputs.size(), 1u);
  EXPECT_EQ(mean17.find_attribute("axes")->ints, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(sum17.inputs.size(), 2u);
  EXPECT_EQ(sum17.find_attribute("axes"), nullptr);

  Builder b18("g", 18);
  auto x18 = b18.input("x", DType::F32, {2, 3});
  b18.reduce_mean(x18, {1});
  b18.split_equal(x18, 1, 3);
  EXPECT_EQ(b18.graph().nodes[0].inputs.size(), 2u);
  EXPECT_EQ(b18.graph().nodes[1].int_attribute("num_outputs"), 3);
  EXPECT_THROW(Builder("g", 11), UsageError);
}

TEST(GraphBuilder, CompositeOpsNameTheirParts) {
  Builder b;
  auto x = b.input("x", DType::F32, {2, 3});
  auto w = b.initializer("fc.weight", weight({5, 3}));
  auto bias = b.initializer("fc.bias", weight({5}));
  b.linear(x, w, bias, "fc");
  b.silu(x, "act");
  b.gelu(x);
  std::vector<std::string> names;
  for (const auto& n : b.graph().nodes) names.push_back(n.name);
  const std::vector<std::string> expected{"fc.weight_t", "fc.matmul",  "fc.add_bias", "act.sigmoid", "act.mul",
                                          "gelu.scale",  "gelu.erf",   "gelu.one_plus", "gelu.mul",  "gelu.half"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(b.graph().nodes[0].find_attribute("perm")->ints, (std::vector<std::int64_t>{1, 0}));
}

TEST(GraphBuilder, RejectsUnknownValuesAndDuplicateOutputs) {
  Builder b;
  auto x = b.input("x", DType::F32, {1});
  EXPECT_THROW(b.relu(Value("ghost", DType::F32)), UsageError);
  EXPECT_THROW(b.input("x", DType::F32, {1}), UsageError);
  b.output(x);
  EXPECT_THROW(b.output(x), UsageError);
  EXPECT_THROW(b.value("nope"), UsageError);
  EXPECT_EQ(b.value("x").dtype(), DType::F32);
}

TEST(GraphBuilder, OutputNameTakesOverAnInternalValueName) {
  Builder b;
  auto x = b.input("x", DType::F32, {2});
  auto eq = b.equal(x, x);  // value "equal"
  b.output(b.cast(eq, DType::F32), "equal");
  // The old handle still means the Equal result, now called "equal_1".
  auto again = b.cast(eq, DType::I32, "again");
  const Graph& g = b.graph();
  EXPECT_EQ(g.nodes[0].outputs[0], "equal_1");
  EXPECT_EQ(g.nodes[1].inputs[0], "equal_1");
  EXPECT_EQ(g.nodes.back().inputs[0], "equal_1");
  EXPECT_EQ(again.dtype(), DType::I32);
  EXPECT_EQ(b.value("equal").name(), "cast");  // the output stands for the value it copies
  EXPECT_THROW(b.output(again, "x"), UsageError);
  EXPECT_NO_THROW(std::move(b).finish());
}

TEST(GraphBuilder, ContinuesAnExistingGraph) {
  Builder first;
  auto x = first.input("x", DType::F32, {2});
  first.output(first.relu(x), "y");
  Builder more(std::move(first).finish());
  auto y = more.value("y");
  auto z = more.relu(y);  // "relu" is taken by the first graph
  EXPECT_EQ(z.name(), "relu_1");
  more.output(z, "z");
  const Graph g = std::move(more).finish();
  EXPECT_EQ(g.outputs.size(), 2u);
  EXPECT_EQ(g.nodes.size(), 4u);
}

TEST(GraphIr, ValidateCatchesBrokenGraphs) {
  Graph g;
  g.inputs.push_back({"x", DType::F32, Dims{1}});
  Node n;
  n.name = "r";
  n.op_type = "Relu";
  n.inputs = {"missing"};
  n.outputs = {"y"};
  g.nodes.push_back(n);
  EXPECT_THROW(validate(g), std::logic_error);
  g.nodes[0].inputs = {"x"};
  g.outputs.push_back({"y", DType::F32, std::nullopt});
  EXPECT_NO_THROW(validate(g));
  g.nodes.push_back(g.nodes[0]);  // same name, same output
  EXPECT_THROW(validate(g), std::logic_error);
  g.nodes.pop_back();
  g.outputs.push_back({"nowhere", DType::F32, std::nullopt});
  EXPECT_THROW(validate(g), std::logic_error);
}

TEST(GraphIr, OnnxTypeCodes) {
  EXPECT_EQ(onnx_data_type(DType::F32), 1);
  EXPECT_EQ(onnx_data_type(DType::F16), 10);
  EXPECT_EQ(onnx_data_type(DType::I64), 7);
  EXPECT_EQ(onnx_data_type(DType::BF16), 16);
  EXPECT_EQ(onnx_data_type(DType::Bool), 9);
  for (DType d : {DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16, DType::I8,
                  DType::U8, DType::Bool})
    EXPECT_EQ(dtype_from_onnx(onnx_data_type(d)), d);
  EXPECT_EQ(dtype_from_onnx(8), std::nullopt);  // STRING
}

}  // namespace
