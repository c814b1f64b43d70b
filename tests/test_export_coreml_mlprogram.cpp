// ML Program packages written by medport, checked with Apple's own tooling (coremltools loads the
// spec and rebuilds the MIL program, re-running type inference on every op; its blob reader reads
// weight.bin back), plus the blob format and reproducibility checked here.
#include "coreml_parity.hpp"
#include "coreml_test.hpp"
#include "medport/error.hpp"
#include "medport/export/open_model.hpp"
#include "medport/models/nnunet/convert.hpp"
#include "medport/models/nnunet/model.hpp"

using namespace medport;
namespace ct = medport::testing::coreml;
using medport::testing::TempDir;
using ct::batch_item;
using ct::Diff;
using ct::diff;

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

// medport's reader against Apple's own converter output: the same network, the PyTorch logits.
TEST(CoreMLReader, AppleCamusPackagesMatchPyTorch) {
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/camus2d_small/forward.npz");
  MEDPORT_FIXTURE_OR_SKIP(apple32, "coreml/camus2d_small/mlprogram_fp32.mlpackage");
  const auto ref = ckpt::read_npz(forward);
  auto get = [&](const std::string& k) {
    for (const auto& [n, t] : ref)
      if (n == k) return t;
    throw std::runtime_error(k);
  };
  for (const bool fp16 : {false, true}) {
    const auto model = exporters::open_model(medport::testing::fixture(
        fp16 ? "coreml/camus2d_small/mlprogram_fp16.mlpackage" : "coreml/camus2d_small/mlprogram_fp32.mlpackage"));
    for (std::int64_t i = 0; i < 2; ++i) {
      const Tensor out = model.run({{"input", batch_item(get("input_0"), i)}}).at(0).tensor;
      const Diff d = diff(out, batch_item(get("logits_0"), i));
      if (fp16) {
        EXPECT_GE(d.agreement, 0.995) << "Apple fp16 sample " << i;
      } else {
        EXPECT_LE(d.max_abs, 1e-4 * std::max(1.0, d.max_ref)) << "Apple fp32 sample " << i;
      }
    }
  }
}

TEST(CoreMLProgram, CamusRoundTripMatchesPyTorch) {
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/camus2d_small/forward.npz");
  TempDir dir;
  const graph::Graph g = camus_graph();
  const auto ref = ckpt::read_npz(forward);
  for (const bool fp16 : {false, true}) {
    auto o = camus_options(fp16);
    o.input_shapes["input"].fixed = {2, 1, 128, 128};
    const auto path = dir / "camus.mlpackage";
    coreml::write_coreml(g, path, o);
    const auto model = exporters::open_model(path);
    const Tensor out = model.run({{"input", ref.at(0).second}}).at(0).tensor;
    const Diff d = diff(out, ref.at(1).second);
    if (fp16) {
      EXPECT_GE(d.agreement, 0.995);
      EXPECT_LE(d.max_abs, 0.02 * std::max(1.0, d.max_ref));
    } else {
      EXPECT_LE(d.max_abs, 1e-4 * std::max(1.0, d.max_ref)) << d.max_abs << " vs " << d.max_ref;
    }
    std::cout << (fp16 ? "fp16" : "fp32") << " max |diff| " << d.max_abs << " (max |ref| " << d.max_ref
              << "), argmax agreement " << d.agreement << "\n";
  }
}

TEST(CoreMLProgram, FlexibleSpatialSizesRunAtOtherSizes) {
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/camus2d_small/forward.npz");
  TempDir dir;
  const auto ref = ckpt::read_npz(forward);
  for (const bool ranges : {true, false}) {
    auto o = camus_options(false);
    auto& shape = o.input_shapes["input"];
    shape.fixed = {2, 1, 128, 128};
    if (ranges) {
      shape.ranges = {{2, 2}, {1, 1}, {64, 512}, {64, -1}};
    } else {
      shape.enumerated = {{2, 1, 128, 128}, {2, 1, 192, 128}};
    }
    const auto path = dir / "flexible.mlpackage";
    coreml::write_coreml(camus_graph(), path, o);
    if (ct::coremltools_available()) {
      const auto j = ct::check_with_coremltools(path);
      if (ranges) {
        EXPECT_EQ(j["spec"]["inputs"][0]["ranges"], nlohmann::json({{2, 2}, {1, 1}, {64, 512}, {64, -1}}));
      } else {
        EXPECT_EQ(j["spec"]["inputs"][0]["enumerated"].size(), 2u);
      }
    }
    const auto model = exporters::open_model(path);
    for (int i : {0, 1}) {
      const Tensor out = model.run({{"input", ref.at(i == 0 ? 0 : 2).second}}).at(0).tensor;
      const Diff d = diff(out, ref.at(i == 0 ? 1 : 3).second);
      EXPECT_LE(d.max_abs, 1e-4 * std::max(1.0, d.max_ref)) << "input_" << i;
    }
  }
}
