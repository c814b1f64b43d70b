// timm classifiers (fixtures made by timm itself): checkpoint -> graph -> ONNX Runtime equals
// PyTorch's logits and softmax, in fp32 and fp16.
#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"
#include "timm_test.hpp"

using namespace medport;
namespace tt = medport::testing::timm;

namespace {

class TimmFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(TimmFixture, MatchesPyTorch) {
  const std::string dir = std::string("classifier/") + GetParam();
  MEDPORT_FIXTURE_OR_SKIP(config_path, dir + "/config.json");
  const auto config = medport::testing::read_json(config_path);
  auto options = tt::options_from_flags(config["convert_flags"].get<std::vector<std::string>>());
  options["logits"] = "true";
  const auto built = tt::build(config_path.parent_path() / "model.pth", options);
  ASSERT_EQ(built.graphs.size(), 1u);
  EXPECT_EQ(built.tensors_used, built.tensors_total);
  const auto& section = built.sidecar.family_section;
  EXPECT_EQ(section["arch"], config["arch"]);
  EXPECT_EQ(section["num_classes"], config["num_classes"]);
  EXPECT_EQ(section["input_size"], config["input_size"]);
  EXPECT_EQ(section["interpolation"], config["timm_default_interpolation"]);
  EXPECT_DOUBLE_EQ(section["crop_pct"].get<double>(), config["timm_default_crop_pct"].get<double>());
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(section["mean"][c].get<double>(), config["mean"][c].get<double>(), 1e-12);
    EXPECT_NEAR(section["std"][c].get<double>(), config["std"][c].get<double>(), 1e-12);
  }
  const auto ref = ckpt::NpzFile::open(config_path.parent_path() / "reference.npz");
  const Tensor logits = ref.read("logits");
  tt::expect_parity(built.graphs[0].graph, ref.read("image"), ref.read("probs"), &logits, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TimmFixture,
                         ::testing::Values("resnet10t_train", "efficientnet_b0_plain_fp16", "mobilenetv3_small_ddp",
                                           "convnext_atto_train_ema", "vit_tiny_train"));

}  // namespace
