// guided-diffusion UNet graph against PyTorch: the EchoGAINS-like fixture and configurations the
// reference tool (tools/guided_diffusion_reference.py, checked against the fixture) generates.
#include <cmath>
#include <cstdio>

#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/error.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/models/guided_diffusion/convert.hpp"
#include "medport/pipelines/convert.hpp"
#include "medport/models/guided_diffusion/unet.hpp"
#include "medport/util/file_io.hpp"
#include <nlohmann/json.hpp>
#include "medport/runtime/session.hpp"
#include "test_support.hpp"

namespace gd = medport::models::guided_diffusion;
using medport::Tensor;

namespace {

gd::StateDict load_state_dict(const std::filesystem::path& path) {
  const auto ckpt = medport::ckpt::load_torch_checkpoint(path);
  gd::StateDict sd;
  for (const auto& entry : ckpt.tensors) sd.emplace(entry.path, entry.tensor);
  return sd;
}

// max |got - want| / max |want|
double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) return INFINITY;
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    err = std::max(err, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  return err / scale;
}

double forward_error(const std::filesystem::path& folder, const gd::UNetChoices& choices, gd::UNetConfig* config_out = nullptr) {
  const gd::StateDict sd = load_state_dict(folder / "model.pt");
  const gd::UNetConfig config = gd::infer_unet_config(sd, choices, "model.pt");
  if (config_out) *config_out = config;
  const auto bytes = medport::graph::to_model_bytes(gd::build_unet_graph(config, sd));
  medport::runtime::Session session(bytes);
  const auto npz = medport::ckpt::NpzFile::open(folder / "forward.npz");
  std::vector<medport::runtime::NamedTensor> inputs = {{gd::kInputX, npz.read("x")}, {gd::kInputT, npz.read("t")}};
  if (npz.contains("y")) inputs.push_back({gd::kInputY, npz.read("y")});
  const auto outputs = session.run(inputs);
  EXPECT_EQ(outputs.at(0).name, gd::kOutput);
  EXPECT_EQ(outputs.at(0).tensor.shape(), npz.read("out").shape());
  return relative_error(outputs.at(0).tensor.to_f32(), npz.read("out").to_f32());
}

TEST(GuidedDiffusionUNet, InfersTheFixtureConfiguration) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/gd_echogains_small/model.pt");
  const gd::StateDict sd = load_state_dict(path);
  const gd::UNetConfig c = gd::infer_unet_config(sd, {}, "model.pt");
  // config.json: 32 channels, mult 1,1,1,2,2,2, 3 res blocks, attention 16,8 of 64 px = ds 4 and 8
  EXPECT_EQ(c.model_channels, 32);
  EXPECT_EQ(c.time_embed_dim, 128);
  EXPECT_EQ(c.in_channels, 3);
  EXPECT_EQ(c.out_channels, 6);
  EXPECT_TRUE(c.learn_sigma());
  EXPECT_EQ(c.num_res_blocks, 3);
  EXPECT_EQ(c.level_channels, (std::vector<std::int64_t>{32, 32, 32, 64, 64, 64}));
  EXPECT_EQ(c.level_attention, (std::vector<bool>{false, false, true, true, false, false}));
  EXPECT_TRUE(c.scale_shift_norm);
  EXPECT_FALSE(c.resblock_updown);
  EXPECT_EQ(c.num_classes, 0);
  EXPECT_EQ(c.spatial_multiple(), 32);
  EXPECT_EQ(c.heads_for(64), 64);  // num_head_channels 1
}

TEST(GuidedDiffusionUNet, ForwardMatchesFixture) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/gd_echogains_small/model.pt");
  const double err = forward_error(path.parent_path(), {});
  EXPECT_LT(err, 1e-4);
  std::printf("gd_echogains_small forward: max abs error / max abs = %.3g\n", err);
  // The head layout matters: 4 heads of 16 (or the new order) give other outputs.
  EXPECT_GT(forward_error(path.parent_path(), {.num_head_channels = -1, .num_heads = 4}), 1e-3);
  EXPECT_GT(forward_error(path.parent_path(), {.attention_order = gd::AttentionOrder::New}), 1e-3);
}

TEST(GuidedDiffusionUNet, RefusesMismatchedStateDicts) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/gd_echogains_small/model.pt");
  gd::StateDict sd = load_state_dict(path);
  auto missing = sd;
  missing.erase("input_blocks.5.0.out_layers.3.bias");
  EXPECT_THROW(gd::infer_unet_config(missing, {}, "m"), medport::InputError);
  auto extra = sd;
  extra.emplace("input_blocks.5.2.foo", sd.at("out.2.bias"));
  EXPECT_THROW(gd::infer_unet_config(extra, {}, "m"), medport::InputError);
  auto reshaped = sd;
  reshaped["middle_block.1.qkv.bias"] = sd.at("out.2.bias");
  EXPECT_THROW(gd::infer_unet_config(reshaped, {}, "m"), medport::InputError);
  EXPECT_THROW(gd::infer_unet_config({}, {}, "m"), medport::InputError);
  EXPECT_THROW(gd::infer_unet_config(sd, {.num_head_channels = 3}, "m"), medport::UsageError);
}

TEST(GuidedDiffusionUNet, ConvertWritesModelAndSidecar) {
  MEDPORT_FIXTURE_OR_SKIP(path, "diffusion/gd_echogains_small/model.pt");
  medport::testing::TempDir dir;
  medport::pipelines::ConvertRequest request;
  request.source = path;
  request.output = dir / "unet.onnx";
  const auto report = medport::pipelines::convert(request);
  EXPECT_EQ(report.family, "guided_diffusion");
  EXPECT_EQ(report.tensors_used, report.tensors_total);
  ASSERT_TRUE(std::filesystem::exists(dir / "unet.onnx"));
  const auto bytes = medport::read_file(dir / "unet.medport.json");
  const auto sidecar = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  EXPECT_EQ(sidecar["family"], "guided_diffusion");
  const auto& section = sidecar["guided_diffusion"];
  EXPECT_EQ(section["unet"]["num_res_blocks"], 3);
  EXPECT_EQ(section["unet"]["learn_sigma"], true);
  EXPECT_EQ(section["spatial_multiple"], 32);
  EXPECT_EQ(section["diffusion"]["noise_schedule"], "linear");
  // The written file computes the fixture's forward pass.
  medport::runtime::Session session(dir / "unet.onnx");
  const auto npz = medport::ckpt::NpzFile::open(path.parent_path() / "forward.npz");
  const auto out = session.run({{gd::kInputX, npz.read("x")}, {gd::kInputT, npz.read("t")}});
  EXPECT_LT(relative_error(out.at(0).tensor.to_f32(), npz.read("out").to_f32()), 1e-4);
}

struct GeneratedCase {
  const char* name;
  std::vector<std::string> flags;
  gd::UNetChoices choices;
};

class GeneratedUNet : public ::testing::TestWithParam<GeneratedCase> {};

TEST_P(GeneratedUNet, ForwardMatchesPyTorchReference) {
  const GeneratedCase& c = GetParam();
  medport::testing::TempDir dir;
  std::vector<std::string> argv = {MEDPORT_PYTHON, medport::testing::source_dir() / "tools/guided_diffusion_reference.py",
                                   "make-case", dir.path().string()};
  argv.insert(argv.end(), c.flags.begin(), c.flags.end());
  const auto result = medport::testing::run_program(argv);
  if (result.exit_code != 0) GTEST_SKIP() << "PyTorch reference unavailable: " << result.err;
  gd::UNetConfig config;
  const double err = forward_error(dir.path(), c.choices, &config);
  EXPECT_LT(err, 1e-4) << c.name << ": " << config.describe();
  std::printf("%s (%s): relative error %.3g\n", c.name, config.describe().c_str(), err);
}

INSTANTIATE_TEST_SUITE_P(
    Configurations, GeneratedUNet,
    ::testing::Values(
        GeneratedCase{"new_order_updown",
                      {"--model-channels", "32", "--channel-mult", "1,2,2", "--num-res-blocks", "2",
                       "--attention-ds", "2,4", "--num-head-channels", "16", "--new-attention-order",
                       "--resblock-updown", "--size", "16"},
                      {.num_head_channels = 16, .attention_order = gd::AttentionOrder::New}},
        GeneratedCase{"legacy_heads_no_scale_shift_fixed_sigma",
                      {"--model-channels", "32", "--channel-mult", "1,2", "--num-res-blocks", "1",
                       "--attention-ds", "1,2", "--num-head-channels", "-1", "--num-heads", "2",
                       "--no-scale-shift", "--out-channels", "3", "--size", "8", "--batch", "3"},
                      {.num_head_channels = -1, .num_heads = 2}},
        GeneratedCase{"class_conditional_single_channel",
                      {"--model-channels", "64", "--in-channels", "1", "--out-channels", "2",
                       "--channel-mult", "0.5,1,1", "--num-res-blocks", "1", "--attention-ds", "4",
                       "--num-classes", "5", "--size", "12"},
                      {.num_head_channels = 1}}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
