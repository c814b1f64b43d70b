// `medport convert` through the built binary: sources, options, outputs, exit codes.
#include <fstream>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/runtime/session.hpp"
#include "test_models_nnunet_helpers.hpp"

using namespace medport;
using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;
namespace nt = medport::testing::nnunet;

namespace {

constexpr const char* kCamus = "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string sha256_by_python(const fs::path& file) {
  auto r = medport::testing::run_program(
      {MEDPORT_PYTHON, "-c", "import hashlib,sys;print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())",
       file.string()});
  std::string s = r.out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// A copy of the camus model folder with the given folds (each a copy of fold_0's checkpoint).
fs::path model_folder_with_folds(const fs::path& fixture, const fs::path& into, std::initializer_list<int> folds) {
  const fs::path model = into / fixture.filename();
  fs::create_directories(model);
  fs::copy_file(fixture / "plans.json", model / "plans.json");
  fs::copy_file(fixture / "dataset.json", model / "dataset.json");
  for (int f : folds) {
    fs::create_directories(model / ("fold_" + std::to_string(f)));
    fs::copy_file(fixture / "fold_0" / "checkpoint_final.pth",
                  model / ("fold_" + std::to_string(f)) / "checkpoint_final.pth");
  }
  return model;
}

TEST(CliConvert, ModelFolderToOnnxAndSidecar) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kCamus);
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/camus2d_small/forward.npz");
  TempDir tmp;
  const auto out = tmp / "camus.onnx";
  const auto r = run_medport({"convert", dir.string(), "-o", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_TRUE(contains(r.out, "family:        nnunet")) << r.out;
  EXPECT_TRUE(contains(r.out, "network:       PlainConvUNet")) << r.out;
  EXPECT_TRUE(contains(r.out, "stages: 7")) << r.out;
  EXPECT_TRUE(contains(r.out, "weights used:  344/344 tensors (100.0%)")) << r.out;
  EXPECT_TRUE(contains(r.out, "camus.medport.json")) << r.out;
  EXPECT_TRUE(contains(r.out, "time:")) << r.out;

  runtime::Session session(out);
  EXPECT_EQ(session.input_names(), std::vector<std::string>{"input"});
  EXPECT_EQ(session.output_names(), std::vector<std::string>{"logits"});
  const auto ref = ckpt::NpzFile::open(forward);
  for (const char* i : {"0", "1"}) {
    const auto got = session.run({{"input", ref.read(std::string("input_") + i)}});
    nt::expect_fp32_parity(got.at(0).tensor, ref.read(std::string("logits_") + i), std::string("logits_") + i);
  }

  const auto sidecar = medport::testing::read_json(tmp / "camus.medport.json");
  EXPECT_EQ(sidecar["schema"], "medport.sidecar");
  EXPECT_EQ(sidecar["schema_version"], 2);
  EXPECT_EQ(sidecar["family"], "nnunet");
  EXPECT_EQ(sidecar["variant"], "PlainConvUNet");
  EXPECT_EQ(sidecar["format"], "onnx");
  EXPECT_EQ(sidecar["graphs"][0]["file"], "camus.onnx");
  EXPECT_EQ(sidecar["graphs"][0]["inputs"][0]["shape"], nlohmann::json::array({"batch", 1, "spatial0", "spatial1"}));
  const auto& s = sidecar["nnunet"];
  EXPECT_EQ(s["model"]["input_name"], "input");
  EXPECT_EQ(s["model"]["output_names"], nlohmann::json::array({"logits"}));
  EXPECT_EQ(s["model"]["stride_product"], nlohmann::json::array({64, 64}));
  EXPECT_EQ(s["model"]["input_channels"], 1);
  EXPECT_EQ(s["model"]["output_channels"], 4);
  EXPECT_EQ(s["model"]["fp16"], false);
  EXPECT_EQ(s["model"]["dynamic_axes"]["input"]["0"], "batch");
  EXPECT_EQ(s["labels"]["labels"]["LA"], 3);
  EXPECT_EQ(s["labels"]["has_regions"], false);
  EXPECT_EQ(s["labels"]["inference_nonlinearity"], "softmax");
  EXPECT_EQ(s["channel_names"]["0"], "US");
  EXPECT_EQ(s["normalization"][0]["scheme"], "ZScoreNormalization");
  EXPECT_DOUBLE_EQ(s["normalization"][0]["intensity_properties"]["mean"].get<double>(), 92.3);
  EXPECT_EQ(s["preprocessing"]["spacing"], nlohmann::json::array({0.3, 0.3}));
  EXPECT_EQ(s["preprocessing"]["patch_size"], nlohmann::json::array({128, 128}));
  EXPECT_EQ(s["preprocessing"]["transpose_forward"], nlohmann::json::array({0, 1, 2}));
  EXPECT_EQ(s["inference"]["allowed_mirroring_axes"], nlohmann::json::array({0, 1}));
  EXPECT_EQ(s["source"]["trainer_name"], "nnUNetTrainer");
  EXPECT_EQ(s["source"]["configuration"], "2d");
  EXPECT_EQ(s["source"]["fold"], 0);
  const fs::path ckpt_path = dir / "fold_0" / "checkpoint_final.pth";
  if (nt::torch_available()) {
    EXPECT_EQ(s["source"]["checkpoint_sha256"], sha256_by_python(ckpt_path));
    EXPECT_EQ(sidecar["checkpoint"]["sha256"], sha256_by_python(ckpt_path));
  }
  EXPECT_EQ(s["source"]["checkpoint_sha256"].get<std::string>().size(), 64u);
}

TEST(CliConvert, FoldFolderPthAndDeepSupervision) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres");
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/resenc3d_small/forward.npz");
  TempDir tmp;
  const auto a = run_medport({"convert", (dir / "fold_0").string(), "-o", (tmp / "a.onnx").string()});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(contains(a.out, "ResidualEncoderUNet")) << a.out;
  EXPECT_TRUE(contains(a.out, "weights used:  312/312 tensors (100.0%)")) << a.out;
  const auto b = run_medport({"convert", (dir / "fold_0" / "checkpoint_final.pth").string(), "-o",
                              (tmp / "b.onnx").string(), "--deep-supervision"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  runtime::Session session(tmp / "b.onnx");
  ASSERT_EQ(session.output_names(),
            (std::vector<std::string>{"logits", "deep_supervision_1", "deep_supervision_2"}));
  const auto ref = ckpt::NpzFile::open(forward);
  const auto outs = session.run({{"input", ref.read("input_0")}});
  for (std::size_t j = 0; j < outs.size(); ++j)
    nt::expect_fp32_parity(outs[j].tensor, ref.read("deep_supervision_" + std::to_string(j)),
                           "deep_supervision_" + std::to_string(j));
  const auto s = medport::testing::read_json(tmp / "b.medport.json")["nnunet"];
  EXPECT_EQ(s["model"]["deep_supervision"], true);
  EXPECT_EQ(s["inference"]["allowed_mirroring_axes"], nlohmann::json::array({0, 1, 2}));
  EXPECT_EQ(s["preprocessing"]["spacing"], nlohmann::json::array({3.0, 0.8, 0.8}));
  EXPECT_EQ(s["model"]["stride_product"], nlohmann::json::array({4, 8, 8}));
}

// A .pth with another name and no plans.json beside it: the family is detected from the tensor
// names and the plans come from the checkpoint's init_args.
TEST(CliConvert, LonePthDetectedByTensorNames) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kCamus);
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/camus2d_small/forward.npz");
  TempDir tmp;
  fs::copy_file(dir / "fold_0" / "checkpoint_final.pth", tmp / "my_model.pth");
  const auto r = run_medport({"convert", (tmp / "my_model.pth").string(), "-o", (tmp / "m.onnx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "plans from checkpoint init_args")) << r.out;
  runtime::Session session(tmp / "m.onnx");
  const auto ref = ckpt::NpzFile::open(forward);
  nt::expect_fp32_parity(session.run({{"input", ref.read("input_0")}}).at(0).tensor, ref.read("logits_0"), "logits_0");
  const auto s = medport::testing::read_json(tmp / "m.medport.json")["nnunet"];
  EXPECT_EQ(s["source"]["plans_from"], "checkpoint init_args");
  EXPECT_EQ(s["source"]["fold"], 0);  // init_args.fold
  EXPECT_EQ(s["labels"]["labels"]["MYO"], 2);
}

TEST(CliConvert, Fp16) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kCamus);
  MEDPORT_FIXTURE_OR_SKIP(forward, "nnunet/camus2d_small/forward.npz");
  TempDir tmp;
  const auto r = run_medport({"convert", dir.string(), "-o", (tmp / "h.onnx").string(), "--fp16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "fp16")) << r.out;
  EXPECT_LT(fs::file_size(tmp / "h.onnx"), 500'000u);  // ~183k parameters at 2 bytes
  runtime::Session session(tmp / "h.onnx");
  const auto ref = ckpt::NpzFile::open(forward);
  const auto out = session.run({{"input", ref.read("input_1")}});
  EXPECT_EQ(out.at(0).tensor.dtype(), DType::F32);
  nt::expect_fp16_parity(out.at(0).tensor, ref.read("logits_1"), "fp16 logits_1");
  EXPECT_EQ(medport::testing::read_json(tmp / "h.medport.json")["nnunet"]["model"]["fp16"], true);
}

TEST(CliConvert, SeveralFoldsNeedFold) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kCamus);
  TempDir tmp;
  const auto model = model_folder_with_folds(dir, tmp.path(), {0, 3});
  const auto r = run_medport({"convert", model.string(), "-o", (tmp / "x.onnx").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--fold")) << r.err;
  EXPECT_TRUE(contains(r.err, "fold_0, fold_3")) << r.err;
  const auto ok = run_medport({"convert", model.string(), "-o", (tmp / "x.onnx").string(), "--fold", "3"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(contains(ok.out, "fold_3")) << ok.out;
  EXPECT_EQ(medport::testing::read_json(tmp / "x.medport.json")["nnunet"]["source"]["fold"], 3);
  const auto missing = run_medport({"convert", model.string(), "-o", (tmp / "y.onnx").string(), "--fold", "2"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_TRUE(contains(missing.err, "no fold_2")) << missing.err;
  const auto best = run_medport({"convert", model.string(), "-o", (tmp / "z.onnx").string(), "--fold", "0",
                                 "--checkpoint", "best"});
  EXPECT_EQ(best.exit_code, 3);
  EXPECT_TRUE(contains(best.err, "checkpoint_best.pth")) << best.err;
  EXPECT_FALSE(fs::exists(tmp / "z.onnx"));
}

TEST(CliConvert, UsageErrors) {
  TempDir tmp;
  EXPECT_EQ(run_medport({"convert"}).exit_code, 2);
  EXPECT_EQ(run_medport({"convert", "x.pth"}).exit_code, 2);  // no -o
  EXPECT_EQ(run_medport({"convert", "x.pth", "-o", (tmp / "a.onnx").string(), "--opset", "18"}).exit_code, 2);
  EXPECT_EQ(run_medport({"convert", "x.pth", "-o", (tmp / "a.onnx").string(), "--checkpoint", "last"}).exit_code, 2);
  EXPECT_EQ(run_medport({"convert", "x.pth", "-o", (tmp / "a.onnx").string(), "--bogus"}).exit_code, 2);
  EXPECT_EQ(run_medport({"convert", tmp.path().string(), "-o", tmp.path().string()}).exit_code, 2);
}

TEST(CliConvert, BadInputs) {
  TempDir tmp;
  const auto missing = run_medport({"convert", (tmp / "nope.pth").string(), "-o", (tmp / "a.onnx").string()});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_TRUE(contains(missing.err, "nope.pth")) << missing.err;
  {
    std::ofstream junk(tmp / "checkpoint_final.pth", std::ios::binary);
    junk << "this is not a checkpoint";
  }
  const auto junk = run_medport({"convert", (tmp / "checkpoint_final.pth").string(), "-o", (tmp / "a.onnx").string()});
  EXPECT_EQ(junk.exit_code, 3) << junk.err;
  fs::create_directories(tmp / "empty_dir");
  EXPECT_EQ(run_medport({"convert", (tmp / "empty_dir").string(), "-o", (tmp / "a.onnx").string()}).exit_code, 3);
  EXPECT_FALSE(fs::exists(tmp / "a.onnx"));
}

TEST(CliConvert, HostileCheckpointsAreRefused) {
  MEDPORT_FIXTURE_OR_SKIP(hostile, "checkpoints/hostile");
  TempDir tmp;
  int files = 0;
  for (const auto& entry : fs::directory_iterator(hostile)) {
    if (entry.path().extension() == ".json") continue;
    ++files;
    const auto r = run_medport({"convert", entry.path().string(), "-o", (tmp / "h.onnx").string()});
    EXPECT_EQ(r.exit_code, 3) << entry.path() << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, entry.path().filename().string())) << r.err;
  }
  EXPECT_GT(files, 0);
  EXPECT_FALSE(fs::exists(tmp / "h.onnx"));
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path()))
    EXPECT_NE(entry.path().filename().string().rfind("medport_pwned", 0), 0u) << entry.path();
}

TEST(CliConvert, WeightMismatchIsExit3) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kCamus);
  MEDPORT_REQUIRE_TORCH();
  TempDir tmp;
  const auto model = model_folder_with_folds(dir, tmp.path(), {});
  fs::create_directories(model / "fold_0");
  nt::run_reference({"mutate", (dir / "fold_0" / "checkpoint_final.pth").string(),
                     (model / "fold_0" / "checkpoint_final.pth").string(), "--drop", "decoder.seg_layers.5.bias"});
  const auto r = run_medport({"convert", model.string(), "-o", (tmp / "a.onnx").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(contains(r.err, "decoder.seg_layers.5.bias")) << r.err;
  EXPECT_FALSE(fs::exists(tmp / "a.onnx"));
}

TEST(CliConvert, NnunetV1IsRefusedClearly) {
  MEDPORT_REQUIRE_TORCH();
  TempDir tmp;
  const auto path = tmp / "model_final_checkpoint.model";
  const std::string script =
      "import torch,sys\n"
      "sd={'conv_blocks_context.0.blocks.0.conv.weight':torch.zeros(4,1,3,3),"
      "'conv_blocks_localization.0.0.blocks.0.conv.weight':torch.zeros(4,8,3,3),"
      "'tu.0.weight':torch.zeros(8,4,2,2),'seg_outputs.0.weight':torch.zeros(2,4,1,1)}\n"
      "torch.save({'epoch':1,'state_dict':sd},sys.argv[1])\n";
  ASSERT_EQ(medport::testing::run_program({MEDPORT_PYTHON, "-c", script, path.string()}).exit_code, 0);
  const auto r = run_medport({"convert", path.string(), "-o", (tmp / "a.onnx").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(contains(r.err, "nnU-Net v1")) << r.err;
  EXPECT_TRUE(contains(r.err, "not supported yet")) << r.err;
}

TEST(CliConvert, FullSizeCamusParameterCount) {
  MEDPORT_FIXTURE_OR_SKIP(plans, "fullsize/camus2d_nnunet/nnUNetTrainer__nnUNetPlans__2d");
  MEDPORT_REQUIRE_TORCH();
  TempDir tmp;
  const auto made = nt::run_reference({"make-model", plans.string(), tmp.path().string()});
  std::string folder = made.out;
  while (!folder.empty() && folder.back() == '\n') folder.pop_back();
  const auto r = run_medport({"convert", folder, "-o", (tmp / "full.onnx").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "parameters:    33,473,330")) << r.out;  // fixture README's count
  EXPECT_TRUE(contains(r.out, "(100.0%)")) << r.out;

  // Full-size parity on one 256x256 patch, fp32 and fp16.
  nt::run_reference({"forward", folder, (tmp / "forward.npz").string()});
  const auto ref = ckpt::NpzFile::open(tmp / "forward.npz");
  runtime::Session fp32(tmp / "full.onnx");
  nt::expect_fp32_parity(fp32.run({{"input", ref.read("input_0")}}).at(0).tensor, ref.read("logits_0"),
                         "full-size logits");
  ASSERT_EQ(run_medport({"convert", folder, "-o", (tmp / "half.onnx").string(), "--fp16"}).exit_code, 0);
  runtime::Session fp16(tmp / "half.onnx");
  nt::expect_fp16_parity(fp16.run({{"input", ref.read("input_0")}}).at(0).tensor, ref.read("logits_0"),
                         "full-size fp16 logits");
}

}  // namespace
