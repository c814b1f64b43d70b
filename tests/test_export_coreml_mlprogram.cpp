// ML Program packages written by medport, checked with Apple's own tooling (coremltools loads the
// spec and rebuilds the MIL program, re-running type inference on every op; its blob reader reads
// weight.bin back), plus the blob format and reproducibility checked here.
#include "coreml_test.hpp"
#include "medport/error.hpp"
#include "medport/models/nnunet/convert.hpp"
#include "medport/models/nnunet/model.hpp"

using namespace medport;
namespace ct = medport::testing::coreml;
using medport::testing::TempDir;

namespace {

graph::Graph camus_graph() {
  const auto m = models::nnunet::load_model(
      models::nnunet::locate_source(medport::testing::fixture("nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d")));
  return models::nnunet::model_graph(m, false, false, 17);
}

coreml::WriteOptions camus_options(bool fp16) {
  coreml::WriteOptions o;
  o.fp16 = fp16;
  o.input_shapes["input"].fixed = {1, 1, 128, 128};
  o.metadata.description = "CAMUS test";
  o.metadata.author = "medport tests";
  o.metadata.user = {{"com.medport.version", "test"}};
  return o;
}

}  // namespace

TEST(CoreMLProgram, CamusLoadsInCoremltoolsWithExactWeights) {
  MEDPORT_FIXTURE_OR_SKIP(folder, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  MEDPORT_REQUIRE_COREMLTOOLS();
  TempDir dir;
  const graph::Graph g = camus_graph();
  const auto npz = ct::write_source_weights(g, dir / "weights.npz");
  for (const bool fp16 : {false, true}) {
    const auto path = dir / (fp16 ? "camus16.mlpackage" : "camus32.mlpackage");
    const auto report = coreml::write_coreml(g, path, camus_options(fp16));
    EXPECT_EQ(report.op_counts.at("conv"), 27u);
    const auto j = ct::check_with_coremltools(path, npz);
    ASSERT_FALSE(j.empty());
    EXPECT_EQ(j["spec"]["version"], 6);
    EXPECT_EQ(j["spec"]["inputs"][0]["name"], "input");
    EXPECT_EQ(j["spec"]["inputs"][0]["shape"], nlohmann::json({1, 1, 128, 128}));
    EXPECT_EQ(j["spec"]["outputs"][0]["name"], "logits");
    EXPECT_EQ(j["spec"]["outputs"][0]["dtype"], "FLOAT32");
    EXPECT_EQ(j["spec"]["metadata"]["description"], "CAMUS test");
    EXPECT_EQ(j["program"]["opset"], "CoreML5");
    EXPECT_EQ(j["program"]["ops"]["conv"], 27);
    EXPECT_EQ(j["program"]["ops"]["conv_transpose"], 6);
    EXPECT_GE(j["blobs"]["checked"].get<int>(), 40);
  }
}
