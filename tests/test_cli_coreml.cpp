// `medport convert --format coreml`, `medport run` and `medport inspect` on Core ML files, end to
// end through the binary: every family's fixture, the exit codes of what cannot be expressed.
#include "coreml_parity.hpp"
#include "coreml_test.hpp"
#include "medport/checkpoint/npy.hpp"

using medport::Tensor;
using medport::testing::fixture;
using medport::testing::run_medport;
using medport::testing::TempDir;
namespace ct = medport::testing::coreml;
namespace ckpt = medport::ckpt;

namespace {

const char* kCamus = "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d";

Tensor member(const std::string& npz, const std::string& name) { return ckpt::read_npz_member(fixture(npz), name); }

Tensor run_output(const std::string& model, const std::vector<std::pair<std::string, Tensor>>& inputs, const TempDir& tmp) {
  ckpt::write_npz(tmp / "in.npz", inputs);
  const auto r = run_medport({"run", model, "--inputs", (tmp / "in.npz").string(), "-o", (tmp / "out.npz").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return ckpt::read_npz(tmp / "out.npz").at(0).second;
}

}  // namespace

TEST(CliCoreML, NnunetPackageConvertsRunsAndInspects) {
  MEDPORT_FIXTURE_OR_SKIP(folder, kCamus);
  TempDir tmp;
  const auto out = (tmp / "camus.mlpackage").string();
  auto r = run_medport({"convert", folder.string(), "--format", "coreml", "-o", out, "--fp32", "--author", "Test Lab",
                        "--license", "CC-BY-4.0", "--model-version", "1.2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("format:        coreml"), std::string::npos) << r.out;
  const auto sidecar = medport::testing::read_json(tmp / "camus.medport.json");
  EXPECT_EQ(sidecar["format"], "coreml");
  EXPECT_EQ(sidecar["graphs"][0]["file"], "camus.mlpackage");

  // The default shape is the patch size with batch 1; the PyTorch logits of the first sample.
  const Tensor x = ct::batch_item(member("nnunet/camus2d_small/forward.npz", "input_0"), 0);
  const Tensor want = ct::batch_item(member("nnunet/camus2d_small/forward.npz", "logits_0"), 0);
  EXPECT_LE(ct::diff(run_output(out, {{"input", x}}, tmp), want).relative(), 1e-4);

  r = run_medport({"inspect", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"mlProgram", "input  float32 [1, 1, 128, 128]", "conv 27", "Test Lab", "CC-BY-4.0",
                        "com.medport.checkpoint_sha256 = " })
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " in\n" << r.out;
  EXPECT_NE(r.out.find(sidecar["checkpoint"]["sha256"].get<std::string>()), std::string::npos);
  r = run_medport({"inspect", out, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["metadata"]["version"], "1.2");
  EXPECT_EQ(j["op_counts"]["conv_transpose"], 6);
  EXPECT_GT(j["weight_bytes"].get<std::int64_t>(), 180000 * 4);
  EXPECT_NE(j["metadata"]["user"]["com.medport.class_labels"].get<std::string>().find("\"LV\":1"), std::string::npos);
  if (ct::coremltools_available()) {
    const auto c = ct::check_with_coremltools(out);
    EXPECT_EQ(c["spec"]["metadata"]["author"], "Test Lab");
  }
}

TEST(CliCoreML, Fp16PackageAndNeuralNetworkModel) {
  MEDPORT_FIXTURE_OR_SKIP(folder, kCamus);
  TempDir tmp;
  const Tensor x = ct::batch_item(member("nnunet/camus2d_small/forward.npz", "input_0"), 1);
  const Tensor want = ct::batch_item(member("nnunet/camus2d_small/forward.npz", "logits_0"), 1);
  // ML Programs default to float16.
  auto r = run_medport({"convert", folder.string(), "--format", "coreml", "-o", (tmp / "m16.mlpackage").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(medport::testing::read_json(tmp / "m16.medport.json")["precision"], "fp16");
  EXPECT_GE(ct::diff(run_output((tmp / "m16.mlpackage").string(), {{"input", x}}, tmp), want).agreement, 0.995);
  // .mlmodel: the NeuralNetwork backend, float32 unless --fp16.
  r = run_medport({"convert", folder.string(), "--format", "coreml", "-o", (tmp / "m.mlmodel").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(medport::testing::read_json(tmp / "m.medport.json")["precision"], "fp32");
  EXPECT_LE(ct::diff(run_output((tmp / "m.mlmodel").string(), {{"input", x}}, tmp), want).relative(), 1e-4);
  r = run_medport({"inspect", (tmp / "m.mlmodel").string()});
  EXPECT_NE(r.out.find("neuralNetwork"), std::string::npos) << r.out;
}

TEST(CliCoreML, DiffusionAndIrisConvert) {
  MEDPORT_FIXTURE_OR_SKIP(gd, "diffusion/gd_echogains_small/model.pt");
  MEDPORT_FIXTURE_OR_SKIP(iris_dir, "iris/iris_base8");
  TempDir tmp;
  auto r = run_medport({"convert", gd.string(), "--format", "coreml", "--fp32", "-o", (tmp / "gd.mlpackage").string(),
                        "--input-shape", "x=2,3,64,64;t=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string f = "diffusion/gd_echogains_small/forward.npz";
  EXPECT_LE(ct::diff(run_output((tmp / "gd.mlpackage").string(), {{"x", member(f, "x")}, {"t", member(f, "t")}}, tmp),
                     member(f, "out"))
                .relative(),
            1e-4);
  // IRIS: the two inference graphs in a folder; the tuning graph exists only as ONNX.
  r = run_medport({"convert", (iris_dir / "final_model.pt").string(), "--config", (iris_dir / "config.json").string(),
                   "--format", "coreml", "--fp32", "-o", (tmp / "iris").string(), "--input-shape",
                   "support_image=1,1,16,64,64;support_masks=1,2,16,64,64;query_image=1,1,16,64,64;task_embeddings=1,2,9,128"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_TRUE(std::filesystem::exists(tmp / "iris" / "encode_support.mlpackage"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "iris" / "forward.mlpackage"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "iris" / "tune_step.mlpackage"));
  const std::string ref = "iris/iris_base8/reference.npz";
  EXPECT_LE(ct::diff(run_output((tmp / "iris" / "forward.mlpackage").string(),
                                {{"query_image", member(ref, "query_image")}, {"task_embeddings", member(ref, "task_embeddings")}}, tmp),
                     member(ref, "logits"))
                .relative(),
            1e-4);
}

TEST(CliCoreML, WhatCannotBeExpressedExitsThree) {
  MEDPORT_FIXTURE_OR_SKIP(folder, kCamus);
  MEDPORT_FIXTURE_OR_SKIP(resenc, "nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres");
  TempDir tmp;
  // A dynamic shape for the neuralnetwork backend.
  auto r = run_medport({"convert", folder.string(), "--format", "coreml", "-o", (tmp / "a.mlmodel").string(),
                        "--shape-range", "input=1,1,64:256,64:256"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("fixed shapes"), std::string::npos) << r.err;
  // A layer the target lacks: 3-D convolution before iOS14.
  r = run_medport({"convert", resenc.string(), "--format", "coreml", "--backend", "neuralnetwork", "--deployment-target",
                   "iOS13", "-o", (tmp / "b.mlmodel").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("convolution3d"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "b.mlmodel"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "b.medport.json"));
  // A data type the target lacks: float16 inputs before iOS16.
  r = run_medport({"convert", folder.string(), "--format", "coreml", "--fp16-io", "-o", (tmp / "c.mlpackage").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("iOS16"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp / "c.mlpackage"));
  r = run_medport({"convert", folder.string(), "--format", "coreml", "--fp16-io", "--deployment-target", "iOS16", "-o",
                   (tmp / "c.mlpackage").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Usage errors: exit 2.
  EXPECT_EQ(run_medport({"convert", folder.string(), "--fp32", "-o", (tmp / "d.onnx").string()}).exit_code, 2);
  EXPECT_EQ(run_medport({"convert", folder.string(), "--format", "coreml", "--backend", "neuralnetwork", "-o",
                         (tmp / "e.mlpackage").string()})
                .exit_code,
            2);
  EXPECT_EQ(run_medport({"convert", folder.string(), "--format", "coreml", "--deployment-target", "iOS11", "-o",
                         (tmp / "f.mlpackage").string()})
                .exit_code,
            2);
  EXPECT_EQ(run_medport({"convert", folder.string(), "--format", "coreml", "--input-shape", "nope=1,1,128,128", "-o",
                         (tmp / "g.mlpackage").string()})
                .exit_code,
            2);
}
