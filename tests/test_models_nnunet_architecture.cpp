// Plans -> architecture, label handling and the expected state_dict layout (hand-checked values).
#include <fstream>
#include <set>

#include "medport/error.hpp"
#include "medport/models/nnunet/architecture.hpp"
#include "medport/models/nnunet/layout.hpp"
#include "medport/models/nnunet/weights.hpp"
#include "test_support.hpp"

using namespace medport;
using namespace medport::models::nnunet;

namespace {

Json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return Json::parse(in);
}

Json camus_like_plans() {
  return Json::parse(R"({
    "configurations": {
      "2d": {
        "patch_size": [64, 64], "spacing": [1.0, 1.0],
        "architecture": {
          "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
          "arch_kwargs": {
            "n_stages": 3, "features_per_stage": [4, 8, 16],
            "conv_op": "torch.nn.modules.conv.Conv2d",
            "kernel_sizes": [[3, 3], [3, 3], [3, 3]], "strides": [[1, 1], [2, 2], [2, 1]],
            "n_conv_per_stage": [2, 2, 2], "n_conv_per_stage_decoder": [2, 2],
            "conv_bias": true, "norm_op": "torch.nn.modules.instancenorm.InstanceNorm2d",
            "norm_op_kwargs": {"eps": 1e-05, "affine": true},
            "dropout_op": null, "dropout_op_kwargs": null,
            "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": true}
          },
          "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"]
        }
      }
    }
  })");
}

Json dataset(const char* labels, int channels = 1) {
  Json d = Json::parse(std::string(R"({"labels": )") + labels + "}");
  d["channel_names"] = Json::object();
  for (int c = 0; c < channels; ++c) d["channel_names"][std::to_string(c)] = "ch" + std::to_string(c);
  return d;
}

TEST(NnunetArchitecture, CamusFixturePlans) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  const auto a = architecture_from_plans(read_json(dir / "plans.json"), read_json(dir / "dataset.json"), "2d", "plans");
  EXPECT_EQ(a.network_class, NetworkClass::PlainConvUNet);
  EXPECT_EQ(a.dim, 2);
  EXPECT_EQ(a.n_stages, 7);
  EXPECT_EQ(a.input_channels, 1);
  EXPECT_EQ(a.num_classes, 4);
  EXPECT_EQ(a.features_per_stage, (std::vector<std::int64_t>{4, 8, 16, 32, 32, 32, 32}));
  EXPECT_EQ(a.stride_product(), (std::vector<std::int64_t>{64, 64}));
  EXPECT_TRUE(a.conv_bias);
  EXPECT_EQ(a.norm, NormKind::Instance);
  EXPECT_TRUE(a.norm_affine);
  EXPECT_EQ(a.nonlin, NonlinKind::LeakyReLU);
  EXPECT_DOUBLE_EQ(a.negative_slope, 0.01);
  EXPECT_FALSE(a.dropout);
}

TEST(NnunetArchitecture, ResEncFixturePlans) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres");
  const auto a =
      architecture_from_plans(read_json(dir / "plans.json"), read_json(dir / "dataset.json"), "3d_fullres", "plans");
  EXPECT_EQ(a.network_class, NetworkClass::ResidualEncoderUNet);
  EXPECT_EQ(a.dim, 3);
  EXPECT_EQ(a.num_classes, 3);
  EXPECT_EQ(a.n_per_stage, (std::vector<int>{1, 2, 2, 2}));
  EXPECT_EQ(a.n_conv_per_stage_decoder, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(a.stride_product(), (std::vector<std::int64_t>{4, 8, 8}));
  EXPECT_EQ(a.stem_channels, 4);
}

// The manifests list every tensor of network_weights: our expected set must equal it exactly.
void expect_matches_manifest(const std::filesystem::path& folder, const std::string& config) {
  const auto a = architecture_from_plans(read_json(folder / "plans.json"), read_json(folder / "dataset.json"), config,
                                         "plans");
  const Json manifest = read_json(folder / "fold_0" / "checkpoint_final.pth.manifest.json");
  std::map<std::string, Shape> from_manifest;
  for (const auto& [path, info] : manifest["tensors"].items())
    if (path.rfind("network_weights.", 0) == 0)
      from_manifest[path.substr(16)] = info["shape"].get<Shape>();
  std::map<std::string, Shape> expected;
  for (const auto& e : expected_tensors(a)) {
    expected[e.key] = e.shape;
    for (const auto& alias : e.aliases) expected[alias] = e.shape;
  }
  EXPECT_EQ(expected.size(), from_manifest.size());
  for (const auto& [k, shape] : from_manifest) {
    auto it = expected.find(k);
    ASSERT_NE(it, expected.end()) << "not expected: " << k;
    EXPECT_EQ(it->second, shape) << k;
  }
}

TEST(NnunetArchitecture, ExpectedKeysMatchCamusManifest) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
  expect_matches_manifest(dir, "2d");
}

TEST(NnunetArchitecture, ExpectedKeysMatchResEncManifest) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres");
  expect_matches_manifest(dir, "3d_fullres");
}

TEST(NnunetArchitecture, FullSizeCamusParameterCount) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "fullsize/camus2d_nnunet/nnUNetTrainer__nnUNetPlans__2d");
  const auto a = architecture_from_plans(read_json(dir / "plans.json"), read_json(dir / "dataset.json"), "2d", "plans");
  std::int64_t params = 0;
  for (const auto& e : expected_tensors(a))
    if (e.parameter) params += shape_numel(e.shape);
  EXPECT_EQ(params, 33473330);  // as stated by the fixture README
}

TEST(NnunetArchitecture, DropoutAndNonlinFirstShiftNormIndex) {
  Json plans = camus_like_plans();
  auto& kw = plans["configurations"]["2d"]["architecture"]["arch_kwargs"];
  kw["dropout_op"] = "torch.nn.modules.dropout.Dropout2d";
  kw["dropout_op_kwargs"] = {{"p", 0.1}};
  const auto with_dropout = architecture_from_plans(plans, dataset(R"({"background": 0, "a": 1})"), "2d", "p");
  std::set<std::string> keys;
  for (const auto& e : expected_tensors(with_dropout))
    for (const auto& k : e.aliases) keys.insert(k);
  EXPECT_TRUE(keys.count("encoder.stages.0.0.convs.0.all_modules.2.weight"));  // conv, dropout, norm
  EXPECT_FALSE(keys.count("encoder.stages.0.0.convs.0.all_modules.1.weight"));

  kw["nonlin_first"] = true;
  kw["dropout_op"] = nullptr;
  const auto nonlin_first = architecture_from_plans(plans, dataset(R"({"background": 0, "a": 1})"), "2d", "p");
  keys.clear();
  for (const auto& e : expected_tensors(nonlin_first))
    for (const auto& k : e.aliases) keys.insert(k);
  EXPECT_TRUE(keys.count("decoder.stages.0.convs.1.all_modules.2.bias"));  // conv, nonlin, norm
}

TEST(NnunetArchitecture, NonAffineNormAndNoBiasHaveNoSuchKeys) {
  Json plans = camus_like_plans();
  auto& kw = plans["configurations"]["2d"]["architecture"]["arch_kwargs"];
  kw["conv_bias"] = false;
  kw["norm_op_kwargs"]["affine"] = false;
  const auto a = architecture_from_plans(plans, dataset(R"({"background": 0, "a": 1})"), "2d", "p");
  for (const auto& e : expected_tensors(a)) {
    EXPECT_EQ(e.key.find("norm."), std::string::npos) << e.key;
    if (e.key.find("seg_layers") == std::string::npos) {
      EXPECT_EQ(e.key.find(".bias"), std::string::npos) << e.key;
    }
  }
}

TEST(NnunetArchitecture, TransposedConvShapesFollowStrides) {
  const auto a = architecture_from_plans(camus_like_plans(), dataset(R"({"background": 0, "a": 1, "b": 2})", 2),
                                         "2d", "p");
  std::map<std::string, Shape> shapes;
  for (const auto& e : expected_tensors(a)) shapes[e.key] = e.shape;
  EXPECT_EQ(shapes.at("decoder.transpconvs.0.weight"), (Shape{16, 8, 2, 1}));  // stage 2 stride (2,1)
  EXPECT_EQ(shapes.at("decoder.transpconvs.1.weight"), (Shape{8, 4, 2, 2}));
  EXPECT_EQ(shapes.at("decoder.stages.1.convs.0.conv.weight"), (Shape{4, 8, 3, 3}));
  EXPECT_EQ(shapes.at("decoder.seg_layers.1.weight"), (Shape{3, 4, 1, 1}));
  EXPECT_EQ(shapes.at("encoder.stages.0.0.convs.0.conv.weight"), (Shape{4, 2, 3, 3}));
}

TEST(NnunetArchitecture, RegionsCountForegroundRegions) {
  const auto info = label_info(dataset(R"({"background": 0, "whole": [1, 2, 3], "core": [2, 3], "enh": 3})"), "d");
  EXPECT_TRUE(info.has_regions);
  EXPECT_EQ(info.num_heads, 3);
  EXPECT_EQ(info.all_labels, (std::vector<std::int64_t>{0, 1, 2, 3}));
  const auto plain = label_info(dataset(R"({"background": 0, "a": 1, "b": 2, "ignore": 3})"), "d");
  EXPECT_FALSE(plain.has_regions);
  EXPECT_EQ(plain.num_heads, 3);
}

TEST(NnunetArchitecture, OldFlatPlansLayout) {
  const Json plans = Json::parse(R"({"configurations": {"3d_fullres": {
      "UNet_class_name": "PlainConvUNet", "UNet_base_num_features": 32, "unet_max_num_features": 64,
      "n_conv_per_stage_encoder": [2, 2, 2], "n_conv_per_stage_decoder": [2, 2],
      "conv_kernel_sizes": [[1, 3, 3], [3, 3, 3], [3, 3, 3]],
      "pool_op_kernel_sizes": [[1, 1, 1], [1, 2, 2], [2, 2, 2]], "patch_size": [16, 64, 64]}}})");
  const auto a = architecture_from_plans(plans, dataset(R"({"background": 0, "a": 1})"), "3d_fullres", "p");
  EXPECT_EQ(a.dim, 3);
  EXPECT_EQ(a.features_per_stage, (std::vector<std::int64_t>{32, 64, 64}));
  EXPECT_EQ(a.stride_product(), (std::vector<std::int64_t>{2, 4, 4}));
  EXPECT_TRUE(a.conv_bias);
  EXPECT_EQ(a.norm, NormKind::Instance);
}

TEST(NnunetArchitecture, InheritsFromAndCascadeInputs) {
  Json plans = camus_like_plans();
  plans["configurations"]["2d_child"] = {{"inherits_from", "2d"}, {"patch_size", {32, 32}},
                                         {"previous_stage", "2d"}};
  const Json cfg = resolve_configuration(plans, "2d_child", "p");
  EXPECT_EQ(cfg["patch_size"], Json({32, 32}));
  EXPECT_TRUE(cfg.contains("architecture"));
  const auto a = architecture_from_plans(plans, dataset(R"({"background": 0, "a": 1, "b": 2})"), "2d_child", "p");
  EXPECT_EQ(a.input_channels, 3);  // 1 image channel + 2 one-hot foreground labels of the previous stage
  plans["configurations"]["2d"]["inherits_from"] = "2d_child";
  EXPECT_THROW(resolve_configuration(plans, "2d_child", "p"), InputError);
}

TEST(NnunetArchitecture, ClearErrors) {
  Json plans = camus_like_plans();
  const Json ds = dataset(R"({"background": 0, "a": 1})");
  try {
    architecture_from_plans(plans, ds, "3d_fullres", "plans.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("configuration '3d_fullres' is not in the plans (have: 2d)"),
              std::string::npos)
        << e.what();
  }
  plans["configurations"]["2d"]["architecture"]["network_class_name"] = "my.module.FancyUNet";
  EXPECT_THROW(architecture_from_plans(plans, ds, "2d", "p"), InputError);
  plans = camus_like_plans();
  plans["configurations"]["2d"]["architecture"]["arch_kwargs"]["kernel_sizes"] = Json::array({{3, 3}, {3, 3}});
  EXPECT_THROW(architecture_from_plans(plans, ds, "2d", "p"), InputError);
  plans = camus_like_plans();
  plans["configurations"]["2d"]["architecture"]["arch_kwargs"]["nonlin"] = "torch.nn.GELU";
  EXPECT_THROW(architecture_from_plans(plans, ds, "2d", "p"), InputError);
  plans = camus_like_plans();
  plans["configurations"]["2d"]["architecture"]["arch_kwargs"]["features_per_stage"] = "many";
  EXPECT_THROW(architecture_from_plans(plans, ds, "2d", "p"), InputError);
}

TEST(NnunetWeights, ReportsMissingExtraAndWrongShapeTogether) {
  const auto a = architecture_from_plans(camus_like_plans(), dataset(R"({"background": 0, "a": 1})"), "2d", "p");
  std::map<std::string, Tensor> sd;
  for (const auto& e : expected_tensors(a)) {
    const Tensor t = Tensor::zeros(DType::F32, e.shape);
    sd[e.key] = t;
    for (const auto& alias : e.aliases) sd[alias] = t;
  }
  EXPECT_NO_THROW(check_weights(a, sd, "ok.pth"));
  const auto full = check_weights(a, sd, "ok.pth");
  EXPECT_EQ(full.used_tensors, sd.size());

  sd.erase("decoder.seg_layers.1.bias");
  sd["decoder.extra.weight"] = Tensor::zeros(DType::F32, {2});
  sd["encoder.stages.1.0.convs.0.conv.weight"] = Tensor::zeros(DType::F32, {8, 4, 5, 5});
  try {
    check_weights(a, sd, "bad.pth");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.pth"), std::string::npos);
    EXPECT_NE(msg.find("missing (1)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("decoder.seg_layers.1.bias [2]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unused (not part of the network) (1)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("decoder.extra.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("encoder.stages.1.0.convs.0.conv.weight: expected [8, 4, 3, 3], found [8, 4, 5, 5]"),
              std::string::npos)
        << msg;
  }
}

TEST(NnunetWeights, AliasMustHoldTheSameData) {
  const auto a = architecture_from_plans(camus_like_plans(), dataset(R"({"background": 0, "a": 1})"), "2d", "p");
  std::map<std::string, Tensor> sd;
  for (const auto& e : expected_tensors(a)) {
    const Tensor t = Tensor::zeros(DType::F32, e.shape);
    sd[e.key] = t;
    for (const auto& alias : e.aliases) sd[alias] = t;
  }
  std::vector<float> ones(4, 1.0f);
  sd["decoder.encoder.stages.0.0.convs.0.norm.weight"] = Tensor::from_f32({4}, ones);
  try {
    check_weights(a, sd, "x.pth");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("decoder.encoder.stages.0.0.convs.0.norm.weight differs from "
                                         "encoder.stages.0.0.convs.0.norm.weight"),
              std::string::npos)
        << e.what();
  }
}

TEST(NnunetLayout, ResidualSkipProjectionNames) {
  Json plans = camus_like_plans();
  auto& arch = plans["configurations"]["2d"]["architecture"];
  arch["network_class_name"] = "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet";
  arch["arch_kwargs"].erase("n_conv_per_stage");
  arch["arch_kwargs"]["n_blocks_per_stage"] = {1, 2, 1};
  arch["arch_kwargs"]["features_per_stage"] = {4, 8, 8};
  arch["arch_kwargs"]["strides"] = {{1, 1}, {1, 1}, {2, 2}};
  const auto a = architecture_from_plans(plans, dataset(R"({"background": 0, "a": 1})"), "2d", "p");
  const auto net = network_layout(a);
  ASSERT_TRUE(net.stem.has_value());
  ASSERT_EQ(net.encoder.size(), 3u);
  EXPECT_FALSE(net.encoder[0].blocks[0].projection.has_value());
  ASSERT_TRUE(net.encoder[1].blocks[0].projection.has_value());  // 4 -> 8 without stride: skip.0
  EXPECT_EQ(net.encoder[1].blocks[0].projection->prefix, "encoder.stages.1.blocks.0.skip.0.");
  EXPECT_TRUE(net.encoder[1].blocks[0].pool.empty());
  EXPECT_FALSE(net.encoder[2].blocks[0].projection.has_value());  // 8 -> 8 with stride: pool only
  EXPECT_EQ(net.encoder[2].blocks[0].pool, (std::vector<std::int64_t>{2, 2}));
}

}  // namespace
