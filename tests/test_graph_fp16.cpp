// fp16 pass, inspected on the IR and on the written proto: which values are half, where the
// Casts go, what stays float32, weight clamping.
#include <onnx/onnx_pb.h>

#include <map>

#include "medport/graph/builder.hpp"
#include "medport/graph/fp16.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::graph;

Tensor filled(Shape shape, float value) {
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)), value);
  return Tensor::from_f32(std::move(shape), v);
}

// image -> conv -> instance norm -> leaky relu -> conv -> softmax(C) -> probabilities
Graph conv_norm_softmax() {
  Builder b("net");
  auto x = b.input("image", DType::F32, {"N", 2, "H", "W"});
  ConvOptions same;
  same.pads = symmetric_pads({1, 1});
  const auto w1 = b.initializer("conv1.weight", filled({4, 2, 3, 3}, 0.1f));
  auto y = b.conv(x, w1, std::nullopt, same, "conv1");
  const auto g = b.initializer("norm.weight", filled({4}, 1.0f));
  const auto beta = b.initializer("norm.bias", filled({4}, 0.0f));
  y = b.leaky_relu(b.instance_norm(y, g, beta, 1e-5f, "norm"), 0.01f, "act");
  const auto w2 = b.initializer("conv2.weight", filled({3, 4, 1, 1}, 1e6f));  // beyond the half range
  y = b.conv(y, w2, std::nullopt, {}, "conv2");
  b.output(b.softmax(y, 1, "softmax"), "probabilities", Dims{"N", 3, "H", "W"});
  return std::move(b).finish();
}

const Node& node(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes)
    if (n.name == name) return n;
  throw std::runtime_error("no node " + name);
}

TEST(GraphFp16, ConvertsComputeAndKeepsNormsAndSoftmaxInFloat32) {
  const Graph in = conv_norm_softmax();
  const Graph out = convert_to_fp16(in);
  const auto types = infer_dtypes(out);
  // Graph interface stays float32.
  EXPECT_EQ(out.inputs[0].dtype, DType::F32);
  EXPECT_EQ(out.outputs[0].dtype, DType::F32);
  EXPECT_EQ(types.at("probabilities"), DType::F32);
  // Convolutions read half inputs and half weights.
  for (const char* conv : {"conv1", "conv2"})
    for (const auto& input : node(out, conv).inputs) EXPECT_EQ(types.at(input), DType::F16) << conv << " " << input;
  EXPECT_EQ(node(out, "conv1").inputs[0], "image.to_fp16");
  EXPECT_EQ(node(out, "act").op_type, "LeakyRelu");
  EXPECT_EQ(types.at(node(out, "act").outputs[0]), DType::F16);
  // InstanceNormalization and Softmax: every input float32, outputs float32.
  for (const char* kept : {"norm", "softmax"}) {
    for (const auto& input : node(out, kept).inputs) EXPECT_EQ(types.at(input), DType::F32) << kept << " " << input;
    EXPECT_EQ(types.at(node(out, kept).outputs[0]), DType::F32);
  }
  EXPECT_EQ(out.find_initializer("norm.weight")->tensor.dtype(), DType::F32);
  EXPECT_EQ(out.find_initializer("conv1.weight")->tensor.dtype(), DType::F16);
  // The input stays untouched: the pass returns a new graph.
  EXPECT_EQ(in.find_initializer("conv1.weight")->tensor.dtype(), DType::F32);
  // Weights beyond the half range are clamped to 65504 (0x7bff), not turned into infinity.
  const Tensor& w2 = out.find_initializer("conv2.weight")->tensor;
  EXPECT_EQ(w2.data<std::uint16_t>()[0], 0x7bffu);
  // Casts: image -> fp16, conv1 -> fp32 (norm), norm -> fp16 (act), conv2 -> fp32 (softmax); the
  // output Identity passes softmax's float32 through without a round trip.
  int casts = 0;
  for (const auto& n : out.nodes) casts += n.op_type == "Cast";
  EXPECT_EQ(casts, 4);

}

TEST(GraphFp16, WrittenProtoPassesTheCheckerWithFloat32Softmax) {
  const auto bytes = to_model_bytes(convert_to_fp16(conv_norm_softmax()));
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  std::map<std::string, int> init_types;
  for (const auto& init : model.graph().initializer()) init_types[init.name()] = init.data_type();
  EXPECT_EQ(init_types.at("conv1.weight"), onnx::TensorProto::FLOAT16);
  EXPECT_EQ(init_types.at("norm.weight"), onnx::TensorProto::FLOAT);
  EXPECT_EQ(init_types.at("norm.bias"), onnx::TensorProto::FLOAT);
  std::map<std::string, std::int64_t> cast_targets;  // cast output -> target type
  for (const auto& n : model.graph().node())
    if (n.op_type() == "Cast") cast_targets[n.output(0)] = n.attribute(0).i();
  for (const auto& n : model.graph().node()) {
    if (n.op_type() != "Softmax" && n.op_type() != "InstanceNormalization") continue;
    ASSERT_TRUE(cast_targets.count(n.input(0))) << n.op_type() << " reads " << n.input(0);
    EXPECT_EQ(cast_targets.at(n.input(0)), onnx::TensorProto::FLOAT) << n.op_type();
  }
  EXPECT_EQ(model.graph().output(0).type().tensor_type().elem_type(), onnx::TensorProto::FLOAT);
}

TEST(GraphFp16, SharedWeightGetsAHalfCopyAndScalesStayFloat32) {
  Builder b;
  auto x = b.input("x", DType::F32, {1, 2, 4, 4});
  const auto shared = b.initializer("shared", filled({1, 2, 1, 1}, 0.5f));
  auto a = b.mul(x, shared, "half_mul");
  auto m = b.reduce_mean(b.mul(x, shared, "also"), {2, 3}, true, "mean");  // ReduceMean stays fp32...
  auto up = b.resize(b.add(a, m, "sum"), {1.0f, 1.0f, 2.0f, 2.0f}, ResizeOptions::torch_nearest(), "up");
  b.output(up, "y", Dims{1, 2, 8, 8});
  Fp16Options opts;
  opts.fp32_node_names = {"also"};  // ... and so does the Mul feeding it, by name
  opts.extend_fp32_upstream = false;  // otherwise half_mul and sum, which feed Resize, go float32 too
  const Graph out = convert_to_fp16(std::move(b).finish(), opts);
  const auto types = infer_dtypes(out);
  EXPECT_EQ(out.find_initializer("shared")->tensor.dtype(), DType::F32);
  ASSERT_NE(out.find_initializer("shared.fp16"), nullptr);
  EXPECT_EQ(node(out, "half_mul").inputs[1], "shared.fp16");
  EXPECT_EQ(node(out, "also").inputs[1], "shared");
  EXPECT_EQ(types.at(node(out, "also").inputs[0]), DType::F32);
  // Resize: data float32 (blocked op), scales float32 whatever happens.
  const Node& resize = node(out, "up");
  EXPECT_EQ(types.at(resize.inputs[0]), DType::F32);
  EXPECT_EQ(out.find_initializer(resize.inputs[2])->tensor.dtype(), DType::F32);
  EXPECT_NO_THROW(to_model_bytes(out));
}

TEST(GraphFp16, KeepFp32ScopeGroupNormAndHalfInterface) {
  Builder b;
  auto x = b.input("x", DType::F32, {1, 4, 2, 2});
  Value y;
  {
    auto fp32 = b.keep_fp32();
    y = b.mul(x, 2.0, "precise");
  }
  y = b.group_norm(y, 2, std::nullopt, std::nullopt, 1e-5f, "gn");
  y = b.cast(b.relu(y, "relu"), DType::F32, "to_float");
  b.output(y, "y", Dims{1, 4, 2, 2});
  const Graph in = std::move(b).finish();
  Fp16Options opts;
  opts.keep_io_types = false;
  const Graph out = convert_to_fp16(in, opts);
  const auto types = infer_dtypes(out);
  EXPECT_EQ(out.inputs[0].dtype, DType::F16);
  EXPECT_EQ(out.outputs[0].dtype, DType::F16);
  EXPECT_EQ(types.at("precise"), DType::F32);
  for (const auto& n : out.nodes) {
    if (n.name.rfind("gn.", 0) != 0 || n.op_type == "Cast") continue;
    for (const auto& o : n.outputs) {
      if (types.at(o) != DType::I64) {
        EXPECT_EQ(types.at(o), DType::F32) << n.name;
      }
    }
  }
  EXPECT_EQ(types.at("relu"), DType::F16);
  // A Cast to float inside a half region now casts to half.
  EXPECT_EQ(node(out, "to_float").int_attribute("to"), 10);
  EXPECT_EQ(types.at("y"), DType::F16);
  EXPECT_NO_THROW(to_model_bytes(out));
}

TEST(GraphFp16, Float32ExtendsUpstreamThroughLightNodesOnly) {
  // t -> Cast -> Unsqueeze -> Mul(freqs) -> Cos/Sin -> Concat -> MatMul: the chain before Cos/Sin
  // stays float32 (t * freq reaches 1000, where half rounds by 0.5); MatMul stays half.
  Builder b;
  auto t = b.input("t", DType::I64, {"N"});
  auto x = b.input("x", DType::F32, {"N", 4});
  auto args = b.mul(b.unsqueeze(b.cast(t, DType::F32, "t_float"), {1}, "t_col"),
                    b.const_f32({1.0f, 0.1f}, {1, 2}, "freqs"), "args");
  auto emb = b.concat({b.cos(args, "cos"), b.sin(args, "sin")}, 1, "emb");
  auto w = b.initializer("w", filled({4, 4}, 0.5f));
  auto y = b.matmul(b.add(emb, x, "sum"), w, "proj");
  auto z = b.softmax(b.matmul(x, w, "scores"), -1, "attn");  // heavy producer of a float32 op
  b.output(y, "y", Dims{"N", 4});
  b.output(z, "z", Dims{"N", 4});
  const Graph out = convert_to_fp16(std::move(b).finish());
  const auto types = infer_dtypes(out);
  EXPECT_EQ(node(out, "t_float").int_attribute("to"), 1);
  for (const char* name : {"t_float", "t_col", "args", "cos", "sin"}) EXPECT_EQ(types.at(name), DType::F32) << name;
  EXPECT_EQ(out.find_initializer("freqs")->tensor.dtype(), DType::F32);
  for (const char* name : {"emb", "sum", "proj", "scores"}) EXPECT_EQ(types.at(name), DType::F16) << name;
  EXPECT_EQ(types.at("attn"), DType::F32);
  EXPECT_NO_THROW(to_model_bytes(out));
}

TEST(GraphFp16, DefaultBlockListNamesTheFragileOps) {
  const auto ops = default_fp32_op_types();
  for (const char* op : {"InstanceNormalization", "LayerNormalization", "Softmax", "ReduceMean", "Resize", "Range",
                         "CumSum", "Pow", "Sqrt", "Exp", "Log", "Cos", "Sin"})
    EXPECT_TRUE(ops.count(op)) << op;
  EXPECT_FALSE(ops.count("Conv"));
  EXPECT_FALSE(ops.count("MatMul"));
}

}  // namespace
