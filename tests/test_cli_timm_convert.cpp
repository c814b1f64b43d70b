// The check of the classifier fixtures as a user runs it: `medport convert` with the case's
// convert_flags (and --fp16), then `medport run` on reference.npz's image.
#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"
#include "timm_test.hpp"

namespace {

namespace fs = std::filesystem;
namespace tt = medport::testing::timm;
using medport::testing::run_medport;

class TimmConvertRun : public ::testing::TestWithParam<const char*> {};

TEST_P(TimmConvertRun, ProbsAndLogitsMatchPyTorch) {
  const std::string dir = std::string("classifier/") + GetParam();
  MEDPORT_FIXTURE_OR_SKIP(config_path, dir + "/config.json");
  const auto config = medport::testing::read_json(config_path);
  const fs::path folder = config_path.parent_path();
  const medport::testing::TempDir tmp;
  const auto ref = medport::ckpt::NpzFile::open(folder / "reference.npz");
  medport::ckpt::write_npz(tmp / "in.npz", {{"image", ref.read("image")}});
  for (const bool fp16 : {false, true}) {
    std::vector<std::string> args{"convert", (folder / "model.pth").string(), "-o", (tmp / "m.onnx").string(), "--logits"};
    for (const auto& f : config["convert_flags"]) args.push_back(f.get<std::string>());
    if (fp16) args.push_back("--fp16");
    auto r = run_medport(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_medport({"run", (tmp / "m.onnx").string(), "--inputs", (tmp / "in.npz").string(), "-o", (tmp / "out.npz").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = medport::ckpt::NpzFile::open(tmp / "out.npz");
    const medport::Tensor probs = out.read("probs"), want = ref.read("probs");
    if (!fp16) {
      tt::expect_probs_close(probs, want, 1e-5, std::string(GetParam()) + " probs");
      tt::expect_logits_close(out.read("logits"), ref.read("logits"), 1e-4, std::string(GetParam()) + " logits");
    } else {
      EXPECT_EQ(tt::top1(probs), tt::top1(want)) << GetParam() << " fp16 top-1";
      tt::expect_probs_close(probs, want, 5e-3, std::string(GetParam()) + " fp16 probs");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TimmConvertRun,
                         ::testing::Values("resnet10t_train", "efficientnet_b0_plain_fp16", "mobilenetv3_small_ddp",
                                           "convnext_atto_train_ema", "vit_tiny_train"));

}  // namespace
