// What the timm family refuses, and how: every message names the file (or flag) and the fault.
#include <fstream>

#include "medport/error.hpp"
#include "test_support.hpp"
#include "timm_test.hpp"

using namespace medport;
namespace tt = medport::testing::timm;
namespace fs = std::filesystem;

namespace {

const fs::path kCases = fs::path(MEDPORT_SOURCE_DIR) / "tests/fixtures/timm";

template <class E>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception of the expected type";
  return {};
}

TEST(TimmErrors, UnsupportedArchitectureIsNamedWithTheSupportedFamilies) {
  const fs::path plain = kCases / "resnet50d_plain_bf16/model.pth";
  const std::string m = message_of<InputError>([&] { tt::build(plain, {{"arch", "swin_tiny_patch4_window7_224"}}); });
  EXPECT_NE(m.find(plain.string()), std::string::npos) << m;
  EXPECT_NE(m.find("'swin_tiny_patch4_window7_224' is not supported"), std::string::npos) << m;
  for (const char* family : {"ResNet", "EfficientNet", "MobileNetV3", "ConvNeXt", "ViT/DeiT"})
    EXPECT_NE(m.find(family), std::string::npos) << m;
  // A supported name of another family than the weights.
  const std::string other = message_of<InputError>([&] { tt::build(plain, {{"arch", "convnext_tiny"}}); });
  EXPECT_NE(other.find("laid out like a ResNet"), std::string::npos) << other;
}

TEST(TimmErrors, PlainStateDictNeedsArch) {
  const fs::path plain = kCases / "resnet50d_plain_bf16/model.pth";
  const std::string m = message_of<InputError>([&] { tt::build(plain, {}); });
  EXPECT_NE(m.find("--arch"), std::string::npos) << m;
  EXPECT_NE(m.find(plain.string()), std::string::npos) << m;
}

TEST(TimmErrors, ClassFileOfTheWrongLengthIsNamed) {
  const medport::testing::TempDir tmp;
  const fs::path classes = tmp / "classes.txt";
  std::ofstream(classes) << "A\nB\nC\nD\n";  // the model has 3 classes
  const std::string m = message_of<InputError>(
      [&] { tt::build(kCases / "resnet50d_plain_bf16/model.pth", {{"arch", "resnet50d"}, {"classes", classes.string()}}); });
  EXPECT_NE(m.find(classes.string()), std::string::npos) << m;
  EXPECT_NE(m.find("4 class names but the model has 3 classes"), std::string::npos) << m;
  std::ofstream(classes) << "A\n\nC\n";
  EXPECT_THROW(tt::build(kCases / "resnet50d_plain_bf16/model.pth", {{"arch", "resnet50d"}, {"classes", classes.string()}}),
               InputError);
  EXPECT_THROW(tt::build(kCases / "resnet50d_plain_bf16/model.pth",
                         {{"arch", "resnet50d"}, {"classes", (tmp / "missing.txt").string()}}),
               InputError);
}

TEST(TimmErrors, EmaNeedsEmaWeightsAndOptionsAreChecked) {
  const fs::path train = kCases / "deit3_small_train/model.pth";
  EXPECT_NE(message_of<InputError>([&] { tt::build(train, {{"ema", "true"}}); }).find("no state_dict_ema"),
            std::string::npos);
  EXPECT_THROW(tt::build(train, {{"heads", "4"}}), UsageError);
  EXPECT_THROW(tt::build(train, {{"mean", "0.5,0.5"}}), UsageError);
  EXPECT_THROW(tt::build(train, {{"std", "0.5,0,0.5"}}), UsageError);
  EXPECT_THROW(tt::build(train, {{"logits", "maybe"}}), UsageError);
}

TEST(TimmErrors, WithoutEmaTheLiveWeightsAreConvertedAndTheEmaIsMentioned) {
  const auto built = tt::build(kCases / "mobilenetv3_large_train_ema/model.pth", {});
  EXPECT_EQ(built.sidecar.family_section["weights"], "state_dict");
  bool mentioned = false;
  for (const auto& d : built.details) mentioned = mentioned || d.find("--ema") != std::string::npos;
  EXPECT_TRUE(mentioned);
}

TEST(TimmErrors, TrainCheckpointOfAnUnsupportedArchitectureIsDetectedAsUnsupported) {
  const medport::testing::TempDir tmp;
  const std::string path = (tmp / "swin.pth").string();
  MEDPORT_RUN_PYTHON_OR_SKIP(py, R"(
import argparse, sys, torch
sd = {"layers.0.blocks.0.attn.qkv.weight": torch.zeros(6, 2), "head.fc.weight": torch.zeros(3, 2)}
torch.save({"epoch": 1, "arch": "swin_tiny_patch4_window7_224", "state_dict": sd,
            "args": argparse.Namespace(model="swin_tiny_patch4_window7_224", num_classes=3)}, sys.argv[1])
)",
                             path);
  const auto weights = ckpt::WeightSource::open(path);
  const auto d = models::timm::timm_family().detect(weights);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->family, "timm");
  EXPECT_NE(d->unsupported_reason.find("'swin_tiny_patch4_window7_224' is not supported"), std::string::npos);
  EXPECT_NE(d->unsupported_reason.find("ConvNeXt"), std::string::npos);
}

TEST(TimmErrors, OtherFamiliesAreNotDetected) {
  MEDPORT_FIXTURE_OR_SKIP(nnunet, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d/fold_0/checkpoint_final.pth");
  EXPECT_FALSE(models::timm::timm_family().detect(ckpt::WeightSource::open(nnunet)).has_value());
}

}  // namespace
