// ONNX writer: proto contents, checker, determinism, opset policy, external data layout.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>

#include "medport/error.hpp"
#include "medport/graph/builder.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/util/file_io.hpp"
#include "medport/version.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::graph;
namespace fs = std::filesystem;

Tensor ramp(Shape shape, float start = 0.0f) {
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + 0.25f * static_cast<float>(i);
  return Tensor::from_f32(std::move(shape), v);
}

// conv -> instance norm -> leaky relu -> resize, with a dynamic batch and image size.
Graph small_net(std::int64_t channels = 4) {
  Builder b("small");
  auto x = b.input("image", DType::F32, {"N", 1, "H", "W"});
  auto s = b.scope("stage");
  ConvOptions conv;
  conv.pads = symmetric_pads({1, 1});
  const auto w = b.initializer("stage.conv.weight", ramp({channels, 1, 3, 3}));
  const auto bias = b.initializer("stage.conv.bias", ramp({channels}));
  auto y = b.conv(x, w, bias, conv);
  const auto gamma = b.initializer("stage.norm.weight", ramp({channels}, 1.0f));
  const auto beta = b.initializer("stage.norm.bias", ramp({channels}));
  y = b.instance_norm(y, gamma, beta);
  y = b.leaky_relu(y, 0.01f);
  y = b.resize(y, {1.0f, 1.0f, 2.0f, 2.0f});
  b.output(y, "logits", Dims{"N", channels, "H2", "W2"});
  b.set_metadata("medport.family", "test");
  b.set_metadata("medport.source_sha256", "abc");
  return std::move(b).finish();
}

onnx::ModelProto parse(std::span<const std::byte> bytes) {
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  return model;
}

std::vector<std::byte> tensor_bytes(const Tensor& t) { return t.contiguous_bytes(); }

std::string external_value(const onnx::TensorProto& t, const std::string& key) {
  for (const auto& e : t.external_data())
    if (e.key() == key) return e.value();
  return {};
}

TEST(GraphWriter, ModelCarriesVersionsProducerAndMetadata) {
  const Graph g = small_net();
  const auto bytes = to_model_bytes(g);
  const auto model = parse(bytes);
  EXPECT_EQ(model.ir_version(), 8);
  ASSERT_EQ(model.opset_import_size(), 1);
  EXPECT_EQ(model.opset_import(0).domain(), "");
  EXPECT_EQ(model.opset_import(0).version(), 17);
  EXPECT_EQ(model.producer_name(), "medport");
  EXPECT_EQ(model.producer_version(), std::string(kVersion));
  ASSERT_EQ(model.metadata_props_size(), 2);
  EXPECT_EQ(model.metadata_props(0).key(), "medport.family");
  EXPECT_EQ(model.metadata_props(1).value(), "abc");
  const auto& graph = model.graph();
  EXPECT_EQ(graph.name(), "small");
  ASSERT_EQ(graph.input_size(), 1);
  const auto& in_shape = graph.input(0).type().tensor_type().shape();
  ASSERT_EQ(in_shape.dim_size(), 4);
  EXPECT_EQ(in_shape.dim(0).dim_param(), "N");
  EXPECT_EQ(in_shape.dim(1).dim_value(), 1);
  EXPECT_EQ(in_shape.dim(3).dim_param(), "W");
  EXPECT_EQ(graph.output(0).name(), "logits");
  EXPECT_EQ(graph.output(0).type().tensor_type().shape().dim(1).dim_value(), 4);
  EXPECT_EQ(graph.node(0).name(), "stage.conv");
  EXPECT_EQ(graph.node(0).op_type(), "Conv");
  // Resize: X, empty roi, scales.
  const auto& resize = graph.node(3);
  ASSERT_EQ(resize.input_size(), 3);
  EXPECT_EQ(resize.input(1), "");
}

TEST(GraphWriter, InitializersAreLittleEndianRawData) {
  const Graph g = small_net();
  const auto model = parse(to_model_bytes(g));
  const auto& init = model.graph().initializer(0);
  EXPECT_EQ(init.name(), "stage.conv.weight");
  EXPECT_EQ(init.data_type(), onnx::TensorProto::FLOAT);
  ASSERT_EQ(init.dims_size(), 4);
  EXPECT_EQ(init.dims(0), 4);
  EXPECT_EQ(init.dims(3), 3);
  ASSERT_EQ(init.raw_data().size(), 4u * 9 * 4);
  float third = 0;
  std::memcpy(&third, init.raw_data().data() + 8, 4);
  EXPECT_EQ(third, 0.5f);
  EXPECT_EQ(static_cast<unsigned char>(init.raw_data()[12 + 3]), 0x3fu);  // 0.75f = 0x3f400000
  EXPECT_EQ(init.float_data_size(), 0);
}

TEST(GraphWriter, StridedInitializerIsWrittenRowMajor) {
  // A transposed view of [[0,1,2],[3,4,5]] must be written as [[0,3],[1,4],[2,5]].
  const Tensor base = Tensor::from_f32({2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  const Tensor view(base.storage(), 0, {3, 2}, {1, 3});
  Builder b;
  auto x = b.input("x", DType::F32, {3, 2});
  b.output(b.add(x, b.initializer("w", view)), "y");
  const auto model = parse(to_model_bytes(std::move(b).finish()));
  std::vector<float> values(6);
  // The output was declared without a shape: the writer inferred [3, 2] for the checker.
  const auto& out_shape = model.graph().output(0).type().tensor_type().shape();
  ASSERT_EQ(out_shape.dim_size(), 2);
  EXPECT_EQ(out_shape.dim(0).dim_value(), 3);
  EXPECT_EQ(out_shape.dim(1).dim_value(), 2);
  ASSERT_EQ(model.graph().initializer(0).raw_data().size(), 24u);
  std::memcpy(values.data(), model.graph().initializer(0).raw_data().data(), 24);
  EXPECT_EQ(values, (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(GraphWriter, SameGraphGivesIdenticalBytes) {
  const auto a = to_model_bytes(small_net());
  const auto b = to_model_bytes(small_net());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, to_model_bytes(small_net(5)));
  medport::testing::TempDir dir;
  write_onnx(small_net(), dir / "a.onnx");
  write_onnx(small_net(), dir / "b.onnx");
  EXPECT_EQ(read_file(dir / "a.onnx"), read_file(dir / "b.onnx"));
  EXPECT_EQ(read_file(dir / "a.onnx"), a);
}

TEST(GraphWriter, CheckerAcceptsBuilderGraphsAndRejectsBrokenOnes) {
  EXPECT_NO_THROW(check_onnx_bytes(to_model_bytes(small_net())));
  Builder b;
  auto x = b.input("x", DType::F32, {2});
  b.output(b.op1("NoSuchOperator", {x}), "y", Dims{2});
  const Graph bad = std::move(b).finish();
  EXPECT_THROW(to_model_bytes(bad), InputError);  // the writer runs the checker by default
  WriteOptions unchecked;
  unchecked.check = false;
  const auto bytes = to_model_bytes(bad, unchecked);
  EXPECT_THROW(check_onnx_bytes(bytes, "bad"), InputError);
  const std::vector<std::byte> garbage(16, std::byte{0xff});
  EXPECT_THROW(check_onnx_bytes(garbage), InputError);
}

TEST(GraphWriter, OutputWithoutInferableShapeAsksForOne) {
  Builder b;
  auto x = b.input("x", DType::F32, {2});
  b.output(b.op1("NoSuchOperator", {x}), "y");
  const Graph g = std::move(b).finish();
  try {
    to_model_bytes(g);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
}

TEST(GraphWriter, RefusesOpsetAbove17UnlessAsked) {
  Builder b("newer", 18);
  auto x = b.input("x", DType::F32, {2, 3});
  b.output(b.reduce_mean(x, {1}), "y");
  const Graph g = std::move(b).finish();
  EXPECT_THROW(to_model_bytes(g), UsageError);
  WriteOptions allow;
  allow.allow_opset_above_17 = true;
  allow.check = false;  // onnx 1.12 does not know opset 18
  EXPECT_EQ(parse(to_model_bytes(g, allow)).opset_import(0).version(), 18);
}

TEST(GraphWriter, ExternalDataIsAlignedAndComplete) {
  medport::testing::TempDir dir;
  const Graph g = small_net(64);  // conv weight 64*9*4 = 2304 bytes
  WriteOptions opts;
  opts.external_data = ExternalData::Always;
  opts.external_min_tensor_bytes = 256;
  const auto result = write_onnx(g, dir / "net.onnx", opts);
  ASSERT_EQ(result.data_path, dir / "net.onnx.data");
  EXPECT_EQ(result.external_tensors, 4u);  // conv weight 2304 B; conv bias, norm weight, norm bias 256 B
  EXPECT_NO_THROW(check_onnx_file(dir / "net.onnx"));
  const auto data = read_file(dir / "net.onnx.data");
  EXPECT_EQ(data.size(), result.data_bytes);
  const auto model = parse(read_file(dir / "net.onnx"));
  std::size_t external = 0;
  for (const auto& init : model.graph().initializer()) {
    const Initializer* original = g.find_initializer(init.name());
    ASSERT_NE(original, nullptr);
    if (init.data_location() != onnx::TensorProto::EXTERNAL) {
      EXPECT_LT(original->tensor.nbytes(), 256u);
      EXPECT_EQ(init.raw_data().size(), original->tensor.nbytes());
      continue;
    }
    ++external;
    EXPECT_FALSE(init.has_raw_data());
    EXPECT_EQ(external_value(init, "location"), "net.onnx.data");
    const auto offset = std::stoull(external_value(init, "offset"));
    const auto length = std::stoull(external_value(init, "length"));
    EXPECT_EQ(offset % 4096, 0u) << init.name();
    ASSERT_EQ(length, original->tensor.nbytes());
    ASSERT_LE(offset + length, data.size());
    const auto expected = tensor_bytes(original->tensor);
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), data.begin() + static_cast<std::ptrdiff_t>(offset)))
        << init.name();
  }
  EXPECT_EQ(external, result.external_tensors);
}

TEST(GraphWriter, AutoModeGoesExternalOnlyAboveTheThreshold) {
  medport::testing::TempDir dir;
  const Graph g = small_net(64);
  const auto inline_result = write_onnx(g, dir / "m.onnx");
  EXPECT_TRUE(inline_result.data_path.empty());
  EXPECT_FALSE(fs::exists(dir / "m.onnx.data"));
  WriteOptions small_threshold;
  small_threshold.external_threshold_bytes = 1000;
  const auto external_result = write_onnx(g, dir / "m.onnx", small_threshold);
  EXPECT_TRUE(fs::exists(dir / "m.onnx.data"));
  EXPECT_GT(external_result.external_tensors, 0u);
  EXPECT_LT(external_result.model_bytes, inline_result.model_bytes);
  // Writing inline again removes the now stale data file; no temporary files are left behind.
  write_onnx(g, dir / "m.onnx");
  EXPECT_FALSE(fs::exists(dir / "m.onnx.data"));
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u);
}

TEST(GraphWriter, NeverModeKeepsEverythingInline) {
  medport::testing::TempDir dir;
  WriteOptions never;
  never.external_data = ExternalData::Never;
  never.external_threshold_bytes = 1;
  const auto result = write_onnx(small_net(), dir / "m.onnx", never);
  EXPECT_TRUE(result.data_path.empty());
  EXPECT_EQ(result.external_tensors, 0u);
  WriteOptions always;
  always.external_data = ExternalData::Always;
  EXPECT_THROW(to_model_bytes(small_net(), always), UsageError);
}

TEST(GraphWriter, AttributesOfEveryKindRoundTrip) {
  Builder b;
  auto x = b.input("x", DType::F32, {2});
  b.output(b.op1("Custom",
                 {x},
                 {Attribute::make_int("i", -3), Attribute::make_float("f", 0.5f), Attribute::make_string("s", "txt"),
                  Attribute::make_ints("is", {1, 2}), Attribute::make_floats("fs", {1.5f}),
                  Attribute::make_strings("ss", {"a", "b"}),
                  Attribute::make_tensor("t", Tensor::from_f32({2}, std::vector<float>{1, 2}))}),
           "y");
  const Graph g = std::move(b).finish();
  // An unknown op: the checker would refuse it.
  WriteOptions unchecked;
  unchecked.check = false;
  const auto model = parse(to_model_bytes(g, unchecked));
  const auto& attrs = model.graph().node(0).attribute();
  ASSERT_EQ(attrs.size(), 7);
  EXPECT_EQ(attrs[0].type(), onnx::AttributeProto::INT);
  EXPECT_EQ(attrs[0].i(), -3);
  EXPECT_EQ(attrs[1].f(), 0.5f);
  EXPECT_EQ(attrs[2].s(), "txt");
  EXPECT_EQ(attrs[3].ints_size(), 2);
  EXPECT_EQ(attrs[4].floats(0), 1.5f);
  EXPECT_EQ(attrs[5].strings(1), "b");
  EXPECT_EQ(attrs[6].type(), onnx::AttributeProto::TENSOR);
  EXPECT_EQ(attrs[6].t().raw_data().size(), 8u);
}

}  // namespace

namespace {

// Deterministic protobuf serialization of a parsed model: the reference the streamed bytes must equal.
std::vector<std::byte> protobuf_serialization(const onnx::ModelProto& model) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    model.SerializeToCodedStream(&coded);
  }
  const auto* p = reinterpret_cast<const std::byte*>(out.data());
  return {p, p + out.size()};
}

// Graphs that exercise every piece of the stream: empty, strided and attribute tensors, several
// opset domains, a doc string, metadata.
std::vector<Graph> varied_graphs() {
  std::vector<Graph> out;
  out.push_back(small_net());
  {
    Builder b("pieces");
    auto x = b.input("x", DType::F32, {3, 2});
    const Tensor base = Tensor::from_f32({2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
    auto y = b.add(x, b.initializer("strided", Tensor(base.storage(), 0, {3, 2}, {1, 3})));
    auto empty = b.initializer("empty", Tensor::zeros(DType::F32, {0, 2}));
    b.output(b.op1("Concat", {y, empty}, {Attribute::make_int("axis", 0)}), "y", Dims{3, 2});
    b.output(b.op1("Custom", {x}, {Attribute::make_tensor("t", Tensor::from_f32({2}, std::vector<float>{1, 2}))}),
             "z", Dims{3, 2});
    b.set_metadata("k", "v");
    b.set_doc_string("a graph with every kind of piece");
    Graph g = std::move(b).finish();
    for (auto& node : g.nodes)
      if (node.op_type == "Custom") node.domain = "custom.domain";
    out.push_back(std::move(g));
  }
  {
    Builder b("int64");
    auto x = b.input("x", DType::I64, {4});
    b.output(b.add(x, b.initializer("offsets", Tensor::from_f32({4}, std::vector<float>{1, 2, 3, 4}).to(DType::I64))),
             "y", Dims{4});
    out.push_back(std::move(b).finish());
  }
  return out;
}

TEST(GraphWriter, StreamedBytesAreProtobufsOwnSerialization) {
  WriteOptions unchecked;
  unchecked.check = false;  // the custom-domain op is unknown to the checker
  medport::testing::TempDir dir;
  for (const Graph& g : varied_graphs()) {
    const auto bytes = to_model_bytes(g, unchecked);
    EXPECT_EQ(bytes, protobuf_serialization(parse(bytes))) << g.name;
    write_onnx(g, dir / "m.onnx", unchecked);
    EXPECT_EQ(read_file(dir / "m.onnx"), bytes) << g.name;
    // External data: the model file is protobuf's serialization too.
    WriteOptions external = unchecked;
    external.external_data = ExternalData::Always;
    external.external_min_tensor_bytes = 16;
    write_onnx(g, dir / "e.onnx", external);
    const auto model_bytes = read_file(dir / "e.onnx");
    EXPECT_EQ(model_bytes, protobuf_serialization(parse(model_bytes))) << g.name;
  }
}

TEST(GraphWriter, CheckerVerdictOnTheStructureIsTheVerdictOnTheWholeModel) {
  // The writer checks the model with the initializers' data elided; onnx::checker on the whole
  // serialized model must agree, for valid and broken graphs alike.
  auto graphs = varied_graphs();
  Builder b;
  auto x = b.input("x", DType::F32, {2});
  b.output(b.add(x, b.initializer("w", Tensor::from_f32({2}, std::vector<float>{1, 2}))), "y", Dims{2});
  b.output(b.op1("NoSuchOperator", {x}), "z", Dims{2});
  graphs.push_back(std::move(b).finish());
  WriteOptions unchecked;
  unchecked.check = false;
  for (const Graph& g : graphs) {
    bool whole_ok = true, structure_ok = true;
    try {
      check_onnx_bytes(to_model_bytes(g, unchecked), g.name);
    } catch (const InputError&) {
      whole_ok = false;
    }
    try {
      (void)to_model_bytes(g);
    } catch (const InputError&) {
      structure_ok = false;
    }
    EXPECT_EQ(structure_ok, whole_ok) << g.name;
  }
}

}  // namespace
