// `medport convert` on the ways users store weights: safetensors for every family (graphs
// byte-identical to the torch file's), DataParallel prefixes and a top-level `state_dict`, and an
// existing empty output folder for families that write several graphs.
#include <gtest/gtest.h>

#include <fstream>

#include "medport/checkpoint/safetensors.hpp"
#include "medport/checkpoint/weight_source.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::testing::run_medport;
using medport::testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The tensors of `checkpoint` under `prefix` (names relative to it) as a safetensors file.
void export_safetensors(const fs::path& checkpoint, const std::string& prefix, const fs::path& out,
                        const std::map<std::string, std::string>& metadata = {}) {
  const auto source = medport::ckpt::WeightSource::open(checkpoint).within(prefix);
  medport::ckpt::NamedTensors tensors;
  for (const auto& w : source.index()) tensors.emplace_back(w.name, source.raw(w.name));
  medport::ckpt::write_safetensors_file(out, tensors, metadata);
}

std::vector<std::byte> bytes_of(const fs::path& p) { return medport::read_file(p); }

TEST(ConvertSources, NnunetSafetensorsGivesTheSameGraph) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  TempDir tmp;
  const fs::path model = tmp / dir.filename();
  fs::create_directories(model / "fold_0");
  fs::copy_file(dir / "plans.json", model / "plans.json");
  fs::copy_file(dir / "dataset.json", model / "dataset.json");
  // What the trainer checkpoint says beyond the weights travels as safetensors metadata.
  export_safetensors(dir / "fold_0" / "checkpoint_final.pth", "network_weights",
                     model / "fold_0" / "checkpoint_final.safetensors",
                     {{"inference_allowed_mirroring_axes", "[0, 1]"}, {"trainer_name", "nnUNetTrainer"}});
  auto r = run_medport({"convert", dir.string(), "-o", (tmp / "torch.onnx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"convert", model.string(), "-o", (tmp / "st.onnx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "checkpoint_final.safetensors")) << r.out;
  EXPECT_EQ(bytes_of(tmp / "torch.onnx"), bytes_of(tmp / "st.onnx"));
  const auto a = medport::testing::read_json(tmp / "torch.medport.json"), b = medport::testing::read_json(tmp / "st.medport.json");
  EXPECT_EQ(a["nnunet"]["inference"], b["nnunet"]["inference"]);
  EXPECT_EQ(a["nnunet"]["preprocessing"], b["nnunet"]["preprocessing"]);
  EXPECT_EQ(a["graphs"][0]["inputs"], b["graphs"][0]["inputs"]);
}

TEST(ConvertSources, GuidedDiffusionSafetensorsGivesTheSameGraph) {
  MEDPORT_FIXTURE_OR_SKIP(ckpt, "diffusion/gd_echogains_small/model.pt");
  TempDir tmp;
  export_safetensors(ckpt, "", tmp / "unet.safetensors");
  ASSERT_EQ(run_medport({"convert", ckpt.string(), "-o", (tmp / "a.onnx").string()}).exit_code, 0);
  const auto r = run_medport({"convert", (tmp / "unet.safetensors").string(), "-o", (tmp / "b.onnx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(bytes_of(tmp / "a.onnx"), bytes_of(tmp / "b.onnx"));
}

TEST(ConvertSources, IrisSafetensorsGivesTheSameGraphs) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "iris/iris_base8");
  TempDir tmp;
  export_safetensors(dir / "final_model.pt", "", tmp / "iris.safetensors");
  const auto config = (dir / "config.json").string();
  ASSERT_EQ(run_medport({"convert", (dir / "final_model.pt").string(), "--config", config, "-o", (tmp / "a").string()})
                .exit_code,
            0);
  const auto r =
      run_medport({"convert", (tmp / "iris.safetensors").string(), "--config", config, "-o", (tmp / "b").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* graph : {"encode_support.onnx", "forward.onnx", "tune_step.onnx"})
    EXPECT_EQ(bytes_of(tmp / "a" / graph), bytes_of(tmp / "b" / graph)) << graph;
}

TEST(ConvertSources, IrisUnderStateDictWithModulePrefixIntoAnExistingEmptyFolder) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "iris/iris_base8");
  TempDir tmp;
  const std::string script =
      "import torch,sys\n"
      "sd=torch.load(sys.argv[1])\n"
      "torch.save({'state_dict':{'module.'+k:v for k,v in sd.items()},'epoch':3},sys.argv[2])\n";
  const auto made = medport::testing::run_program(
      {MEDPORT_PYTHON, "-c", script, (dir / "final_model.pt").string(), (tmp / "ddp.pt").string()});
  if (made.exit_code != 0) GTEST_SKIP() << "torch unavailable: " << made.err;
  const auto config = (dir / "config.json").string();
  ASSERT_EQ(run_medport({"convert", (dir / "final_model.pt").string(), "--config", config, "-o", (tmp / "a").string()})
                .exit_code,
            0);
  fs::create_directories(tmp / "existing");
  const auto r =
      run_medport({"convert", (tmp / "ddp.pt").string(), "--config", config, "-o", (tmp / "existing").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "layout: state_dict")) << r.out;
  for (const char* graph : {"encode_support.onnx", "forward.onnx"})
    EXPECT_EQ(bytes_of(tmp / "a" / graph), bytes_of(tmp / "existing" / graph)) << graph;
  EXPECT_TRUE(fs::exists(tmp / "existing" / "medport.json"));
}

TEST(ConvertSources, FailedConversionLeavesNothing) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "iris/iris_base8");
  TempDir tmp;
  std::ofstream(tmp / "odd.json") << R"({"volume_shape": [16, 60, 64]})";
  const auto r = run_medport(
      {"convert", (dir / "final_model.pt").string(), "--config", (tmp / "odd.json").string(), "-o", (tmp / "out").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

TEST(ConvertSources, UnknownFormatAndForeignFamilyOptionsAreUsageErrors) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  TempDir tmp;
  auto r = run_medport({"convert", dir.string(), "-o", (tmp / "a.onnx").string(), "--format", "tflite"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_medport({"convert", dir.string(), "-o", (tmp / "a.onnx").string(), "--num-heads", "4"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "num_heads")) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "a.onnx"));
}

}  // namespace

namespace {

TEST(ConvertSources, DottedModelNamesFindTheirSidecar) {
  TempDir tmp;
  const auto model = medport::testing::source_dir() / "models" / "phantom2d";
  ASSERT_EQ(run_medport({"convert", model.string(), "-o", (tmp / "phantom.v2.onnx").string()}).exit_code, 0);
  EXPECT_TRUE(fs::exists(tmp / "phantom.v2.medport.json"));
  ASSERT_EQ(run_medport({"phantom", "-o", (tmp / "p").string(), "--patients", "1", "--seed", "3"}).exit_code, 0);
  const auto image = tmp / "p" / "phantom0001" / "phantom0001_4CH_ED.npy";
  const auto r = run_medport({"segment", (tmp / "phantom.v2.onnx").string(), image.string(), "-o",
                              (tmp / "seg").string(), "--spacing", "0.3,0.3", "--no-tta"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(tmp / "seg" / "phantom0001_4CH_ED.json"));
}

}  // namespace
