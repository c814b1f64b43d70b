// timm classifiers beyond the shared fixtures (tools/timm_reference.py, run with timm itself):
// other members of the four families, other save formats, fp16/bf16 weights, EMA weights,
// non-default normalization and input sizes.
#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"
#include "timm_test.hpp"

using namespace medport;
namespace tt = medport::testing::timm;
namespace fs = std::filesystem;

namespace {

const fs::path kCases = fs::path(MEDPORT_SOURCE_DIR) / "tests/fixtures/timm";

class TimmReference : public ::testing::TestWithParam<const char*> {};

TEST_P(TimmReference, MatchesTimm) {
  const fs::path dir = kCases / GetParam();
  const auto c = medport::testing::read_json(dir / "case.json");
  ASSERT_TRUE(c.is_object()) << dir;
  std::map<std::string, std::string> options;
  for (const auto& [k, v] : c["options"].items()) options[k] = v.get<std::string>();
  if (options.count("classes")) options["classes"] = (dir / options["classes"]).string();
  options["logits"] = "true";
  const auto built = tt::build(dir / c["file"].get<std::string>(), options);
  EXPECT_EQ(built.tensors_used, built.tensors_total);
  const auto& s = built.sidecar.family_section;
  const auto& e = c["expect"];
  EXPECT_EQ(s["arch"], e["arch"]);
  EXPECT_EQ(s["num_classes"], e["num_classes"]);
  EXPECT_EQ(s["input_size"], e["input_size"]);
  EXPECT_EQ(s["normalization_from"]["source"], e["normalization_source"]);
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(s["mean"][i].get<double>(), e["mean"][i].get<double>(), 1e-9);
    EXPECT_NEAR(s["std"][i].get<double>(), e["std"][i].get<double>(), 1e-9);
  }
  if (e.contains("class_names")) {
    EXPECT_EQ(s["class_names"], e["class_names"]);
  }
  if (e.contains("interpolation")) {
    EXPECT_EQ(s["interpolation"], e["interpolation"]);
  }
  if (e.contains("crop_pct")) {
    EXPECT_DOUBLE_EQ(s["crop_pct"].get<double>(), e["crop_pct"].get<double>());
  }
  if (e.contains("weights")) {
    EXPECT_EQ(s["weights"], e["weights"]);
  }
  const auto ref = ckpt::NpzFile::open(dir / "reference.npz");
  const Tensor logits = ref.read("logits");
  tt::expect_parity(built.graphs[0].graph, ref.read("image").to(DType::F32), ref.read("probs"), &logits, GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TimmReference,
    ::testing::Values("resnet50d_plain_bf16", "resnet18_safetensors_mean", "seresnext26t_ddp", "tf_efficientnet_b0_train",
                      "efficientnet_lite0_msd", "mobilenetv3_large_train_ema", "tf_mobilenetv3_small_minimal_fp16",
                      "convnext_tiny_prelogits", "convnext_atto_ols_hnf_train", "deit_tiny_distilled_fp16",
                      "vit_small_avg_reg_160", "deit3_small_train"));

TEST(TimmReferenceCases, EveryCaseFolderIsListed) {
  std::size_t folders = 0;
  for (const auto& entry : fs::directory_iterator(kCases)) folders += entry.is_directory();
  EXPECT_EQ(folders, 12u) << "add new case folders of tools/timm_reference.py to the list above";
}

}  // namespace
