// nnU-Net v2 checkpoint -> graph -> ONNX Runtime, against outputs of the original PyTorch code
// (the fixtures) and of tools/nnunet_reference.py (configurations the fixtures do not cover).
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/models/nnunet/convert.hpp"
#include "medport/models/nnunet/graph.hpp"
#include "medport/runtime/session.hpp"
#include "test_models_nnunet_helpers.hpp"

using namespace medport;
using namespace medport::models::nnunet;
namespace nt = medport::testing::nnunet;

namespace {

runtime::Session session_for(const Model& model, bool deep_supervision, bool fp16) {
  const auto bytes = graph::to_model_bytes(model_graph(model, deep_supervision, fp16, 17));
  return runtime::Session(bytes);
}

Tensor run_one(const runtime::Session& s, const Tensor& input, std::size_t output = 0) {
  auto out = s.run({{kInputName, input}});
  EXPECT_GT(out.size(), output);
  return out.at(output).tensor;
}

// Every input_i -> logits_i, and input_0 -> deep_supervision_j, in fp32 and fp16.
void check_forward(const std::filesystem::path& model_source, const std::filesystem::path& forward_npz) {
  const Model model = load_model(locate_source(model_source));
  const auto ref = ckpt::NpzFile::open(forward_npz);
  for (const bool fp16 : {false, true}) {
    const auto plain = session_for(model, false, fp16);
    int inputs = 0;
    for (; ref.contains("input_" + std::to_string(inputs)); ++inputs) {
      const std::string i = std::to_string(inputs);
      const Tensor got = run_one(plain, ref.read("input_" + i));
      if (fp16)
        nt::expect_fp16_parity(got, ref.read("logits_" + i), "fp16 logits_" + i);
      else
        nt::expect_fp32_parity(got, ref.read("logits_" + i), "logits_" + i);
    }
    EXPECT_GT(inputs, 0);
    const auto ds = session_for(model, true, fp16);
    ASSERT_EQ(ds.output_names().front(), "logits");
    const auto outs = ds.run({{kInputName, ref.read("input_0")}});
    int heads = 0;
    for (; ref.contains("deep_supervision_" + std::to_string(heads)); ++heads) {
      const std::string j = std::to_string(heads);
      ASSERT_LT(static_cast<std::size_t>(heads), outs.size());
      if (fp16)
        nt::expect_fp16_parity(outs[static_cast<std::size_t>(heads)].tensor, ref.read("deep_supervision_" + j),
                               "fp16 deep_supervision_" + j);
      else
        nt::expect_fp32_parity(outs[static_cast<std::size_t>(heads)].tensor, ref.read("deep_supervision_" + j),
                               "deep_supervision_" + j);
    }
    EXPECT_EQ(static_cast<std::size_t>(heads), outs.size());
    EXPECT_EQ(heads, model.architecture.n_stages - 1);
  }
}

TEST(NnunetParity, Camus2dPlainFixture) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small");
  check_forward(dir / "nnUNetTrainer__nnUNetPlans__2d", dir / "forward.npz");
}

TEST(NnunetParity, ResEnc3dFixture) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/resenc3d_small");
  check_forward(dir / "nnUNetTrainer__nnUNetPlans__3d_fullres", dir / "forward.npz");
}

TEST(NnunetParity, LoadsTrainerCheckpointMetadata) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  const Model m = load_model(locate_source(dir / "fold_0" / "checkpoint_final.pth"));
  EXPECT_EQ(m.configuration, "2d");
  EXPECT_EQ(m.trainer_name, "nnUNetTrainer");
  ASSERT_TRUE(m.fold.has_value());
  EXPECT_EQ(*m.fold, 0);
  ASSERT_TRUE(m.mirroring_axes.has_value());
  EXPECT_EQ(*m.mirroring_axes, (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(m.current_epoch, 1000);
  EXPECT_EQ(m.plans_origin, "plans.json");
  EXPECT_EQ(m.network.index().size(), 344u);
}

// A lone .pth (no plans.json beside it) is converted from the plans stored in init_args.
TEST(NnunetParity, PlansFromCheckpointInitArgs) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small");
  medport::testing::TempDir tmp;
  std::filesystem::copy_file(dir / "nnUNetTrainer__nnUNetPlans__2d" / "fold_0" / "checkpoint_final.pth",
                             tmp / "model.pth");
  const Model m = load_model(locate_source(tmp / "model.pth"));
  EXPECT_EQ(m.plans_origin, "checkpoint init_args");
  EXPECT_EQ(m.architecture.n_stages, 7);
  const auto ref = ckpt::NpzFile::open(dir / "forward.npz");
  nt::expect_fp32_parity(run_one(session_for(m, false, false), ref.read("input_0")), ref.read("logits_0"),
                         "logits_0 via init_args plans");
}

class GeneratedCase : public ::testing::TestWithParam<const char*> {};

TEST_P(GeneratedCase, MatchesPyTorchReference) {
  MEDPORT_REQUIRE_TORCH();
  medport::testing::TempDir tmp;
  const auto folder = nt::make_case(GetParam(), tmp.path());
  ASSERT_TRUE(std::filesystem::is_directory(folder)) << folder;
  check_forward(folder, tmp / "forward.npz");
}

INSTANTIATE_TEST_SUITE_P(Unseen, GeneratedCase,
                         ::testing::Values("resenc2d_rgb", "plain3d_aniso_dropout", "plain2d_nonlin_first_regions",
                                           "resenc3d_projection", "plain2d_batchnorm"));

void expect_weight_error(const std::vector<std::string>& mutation, const std::vector<std::string>& phrases) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  MEDPORT_REQUIRE_TORCH();
  medport::testing::TempDir tmp;
  const auto model = tmp / "nnUNetTrainer__nnUNetPlans__2d";
  std::filesystem::create_directories(model / "fold_0");
  std::filesystem::copy_file(dir / "plans.json", model / "plans.json");
  std::filesystem::copy_file(dir / "dataset.json", model / "dataset.json");
  std::vector<std::string> args{"mutate", (dir / "fold_0" / "checkpoint_final.pth").string(),
                                (model / "fold_0" / "checkpoint_final.pth").string()};
  args.insert(args.end(), mutation.begin(), mutation.end());
  nt::run_reference(args);
  const Model m = load_model(locate_source(model));
  try {
    model_graph(m, false, false, 17);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("checkpoint_final.pth"), std::string::npos) << msg;
    for (const auto& p : phrases) EXPECT_NE(msg.find(p), std::string::npos) << "missing '" << p << "' in:\n" << msg;
  }
}

TEST(NnunetWeightErrors, MissingWeight) {
  expect_weight_error({"--drop", "decoder.seg_layers.5.weight"},
                      {"missing (1)", "decoder.seg_layers.5.weight [4, 4, 1, 1]"});
}

TEST(NnunetWeightErrors, ExtraWeight) {
  expect_weight_error({"--add", "decoder.extra_head.weight"},
                      {"unused (not part of the network) (1)", "decoder.extra_head.weight [3]"});
}

TEST(NnunetWeightErrors, WrongShape) {
  expect_weight_error({"--reshape", "decoder.transpconvs.0.weight"},
                      {"wrong shape", "decoder.transpconvs.0.weight: expected [32, 32, 2, 2], found [33, 32, 2, 2]"});
}

TEST(NnunetWeightErrors, AllProblemsInOneMessage) {
  expect_weight_error({"--drop", "encoder.stages.0.0.convs.0.all_modules.0.weight", "--add", "foo.bar", "--reshape",
                       "encoder.stages.6.0.convs.1.norm.bias"},
                      {"missing (1)", "encoder.stages.0.0.convs.0.all_modules.0.weight",
                       "alias of encoder.stages.0.0.convs.0.conv.weight", "foo.bar [3]",
                       "encoder.stages.6.0.convs.1.norm.bias: expected [32], found [33]"});
}

}  // namespace
