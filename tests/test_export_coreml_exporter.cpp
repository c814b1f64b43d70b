// The Core ML entry of the export table: option handling, defaults from the family's sidecar
// section, metadata, and the refusal of ONNX-only graphs.
#include "coreml_test.hpp"
#include "medport/error.hpp"
#include "medport/export/coreml_exporter.hpp"
#include "medport/graph/builder.hpp"

using namespace medport;
using medport::testing::TempDir;

namespace {

models::BuiltModel segmenter_model() {
  graph::Builder b("seg");
  auto x = b.input("input", DType::F32, {"batch", 1, "spatial0", "spatial1"});
  std::vector<float> w(2 * 1 * 3 * 3, 0.1f);
  graph::ConvOptions o;
  o.pads = graph::symmetric_pads({1, 1});
  b.output(b.conv(x, b.initializer("w", Tensor::from_f32({2, 1, 3, 3}, w)), std::nullopt, o), "logits");
  models::BuiltModel m;
  m.graphs.push_back({"model", std::move(b).finish()});
  m.sidecar.family = "nnunet";
  m.sidecar.variant = "PlainConvUNet";
  m.sidecar.checkpoint = "/data/fold_0/checkpoint_final.pth";
  m.sidecar.checkpoint_sha256 = "abc123";
  m.sidecar.family_section = {{"labels", {{"background", 0}, {"LV", 1}}},
                              {"normalization", {{{"scheme", "ZScoreNormalization"}}}},
                              {"preprocessing", {{"patch_size", {64, 48}}}}};
  return m;
}

}  // namespace

TEST(CoreMLExporter, DefaultsFromTheSidecarAndMetadata) {
  const auto model = segmenter_model();
  exporters::ExportOptions options;
  options.fp16 = true;
  const auto o = exporters::coreml_write_options(model, model.graphs[0], "m.mlpackage", options);
  EXPECT_EQ(o.input_shapes.at("input").fixed, (Shape{1, 1, 64, 48}));
  EXPECT_EQ(o.backend, coreml::Backend::MLProgram);
  EXPECT_TRUE(o.fp16);
  EXPECT_EQ(o.target.name, "iOS15");
  std::map<std::string, std::string> user(o.metadata.user.begin(), o.metadata.user.end());
  EXPECT_EQ(user.at("com.medport.checkpoint_sha256"), "abc123");
  EXPECT_EQ(user.at("com.medport.class_labels"), R"({"background":0,"LV":1})");
  EXPECT_NE(user.at("com.medport.preprocessing").find("ZScoreNormalization"), std::string::npos);
  EXPECT_NE(o.metadata.description.find("checkpoint_final.pth"), std::string::npos);

  // Flags by name; .mlmodel picks the NeuralNetwork backend.
  options.options = {{"input_shape", "input=2,1,32,32"}, {"deployment_target", "macOS13"}, {"author", "Lab"}};
  const auto n = exporters::coreml_write_options(model, model.graphs[0], "m.mlmodel", options);
  EXPECT_EQ(n.backend, coreml::Backend::NeuralNetwork);
  EXPECT_EQ(n.input_shapes.at("input").fixed, (Shape{2, 1, 32, 32}));
  EXPECT_EQ(n.target.specification_version, 7);
  EXPECT_EQ(n.metadata.author, "Lab");
  options.options = {{"input_shape", "nope=1"}};
  EXPECT_THROW(exporters::coreml_write_options(model, model.graphs[0], "m.mlpackage", options), UsageError);
  options.options = {{"precision", "int8"}};
  EXPECT_THROW(exporters::coreml_write_options(model, model.graphs[0], "m.mlpackage", options), UsageError);
}

TEST(CoreMLExporter, WritesThePackageAndRefusesOnnxOnlyGraphs) {
  TempDir dir;
  auto model = segmenter_model();
  const auto& e = exporters::find_exporter("coreml");
  EXPECT_FALSE(e.wants_fp16_graphs());
  const auto result = e.write(model, dir / "m.mlpackage", {});
  EXPECT_EQ(result.graph_files, (std::vector<std::string>{"m.mlpackage"}));
  EXPECT_TRUE(std::filesystem::exists(dir / "m.mlpackage" / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"));
  const auto summary = coreml::summarize_coreml(dir / "m.mlpackage");
  EXPECT_EQ(summary.inputs.at(0).shape, (std::vector<std::int64_t>{1, 1, 64, 48}));
  exporters::ExportOptions bad;
  bad.options = {{"opset", "17"}};
  EXPECT_THROW(e.write(model, dir / "x.mlpackage", bad), UsageError);
  model.graphs[0].onnx_only = true;
  model.graphs[0].name = "tune_step";
  try {
    e.write(model, dir / "t.mlpackage", {});
    FAIL() << "an ONNX-only graph was exported";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("tune_step"), std::string::npos) << err.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "t.mlpackage"));
}
