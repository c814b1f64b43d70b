// OUT.medport.json contents for cases the CLI tests do not cover: regions, several channels with
// CT normalization, anisotropic 3D strides, and the file naming.
#include "medport/models/nnunet/sidecar.hpp"
#include "medport/models/sidecar.hpp"
#include "test_models_nnunet_helpers.hpp"

using namespace medport::models::nnunet;
namespace nt = medport::testing::nnunet;

namespace {

SidecarOptions options_for() {
  SidecarOptions o;
  o.output_names = {"logits"};
  return o;
}

TEST(Sidecar, PathNextToTheModel) {
  using medport::models::sidecar_path_for;
  EXPECT_EQ(sidecar_path_for("out/model.onnx"), std::filesystem::path("out/model.medport.json"));
  EXPECT_EQ(sidecar_path_for("out/model.v2.onnx"), std::filesystem::path("out/model.v2.medport.json"));
  EXPECT_EQ(sidecar_path_for("out/m.mlpackage"), std::filesystem::path("out/m.medport.json"));
  EXPECT_EQ(sidecar_path_for("model"), std::filesystem::path("model.medport.json"));
  medport::testing::TempDir tmp;
  std::filesystem::create_directories(tmp / "iris_out");
  EXPECT_EQ(sidecar_path_for(tmp / "iris_out"), tmp / "iris_out" / "medport.json");
  EXPECT_EQ(sidecar_path_for((tmp / "iris_out").string() + "/"), tmp / "iris_out" / "medport.json");
}

TEST(NnunetSidecar, RegionsAndTwoChannels) {
  MEDPORT_REQUIRE_TORCH();
  medport::testing::TempDir tmp;
  const auto folder = nt::make_case("plain2d_nonlin_first_regions", tmp.path());
  const Model m = load_model(locate_source(folder));
  const Json s = make_sidecar(m, options_for());
  EXPECT_EQ(s["labels"]["has_regions"], true);
  EXPECT_EQ(s["labels"]["regions_class_order"], Json({1, 2, 3}));
  EXPECT_EQ(s["labels"]["num_segmentation_heads"], 3);
  EXPECT_EQ(s["labels"]["inference_nonlinearity"], "sigmoid");
  EXPECT_EQ(s["labels"]["labels"]["core"], Json({2, 3}));
  // Label order is dataset.json's order (regions are painted in that order).
  EXPECT_EQ(s["labels"]["labels"].begin().key(), "background");
  EXPECT_EQ(s["model"]["output_channels"], 3);
  EXPECT_EQ(s["model"]["input_channels"], 2);
  ASSERT_EQ(s["normalization"].size(), 2u);
  EXPECT_EQ(s["normalization"][0]["name"], "T1");
  EXPECT_EQ(s["normalization"][0]["scheme"], "CTNormalization");
  EXPECT_DOUBLE_EQ(s["normalization"][0]["intensity_properties"]["percentile_00_5"].get<double>(), -5.0);
  EXPECT_DOUBLE_EQ(s["normalization"][0]["intensity_properties"]["percentile_99_5"].get<double>(), 900.0);
  EXPECT_EQ(s["normalization"][1]["name"], "T2");
  EXPECT_EQ(s["normalization"][1]["scheme"], "ZScoreNormalization");
  EXPECT_DOUBLE_EQ(s["normalization"][1]["intensity_properties"]["std"].get<double>(), 51.0);
  EXPECT_EQ(s["model"]["stride_product"], Json({4, 4}));
}

TEST(NnunetSidecar, Anisotropic3d) {
  MEDPORT_REQUIRE_TORCH();
  medport::testing::TempDir tmp;
  const auto folder = nt::make_case("plain3d_aniso_dropout", tmp.path());
  const Model m = load_model(locate_source(folder));
  auto o = options_for();
  o.fp16 = true;
  const Json s = make_sidecar(m, o);
  EXPECT_EQ(s["model"]["stride_product"], Json({4, 8, 4}));  // strides (1,1,1)(1,2,2)(2,2,2)(2,2,1)
  EXPECT_EQ(s["model"]["spatial_dims"], 3);
  EXPECT_EQ(s["model"]["fp16"], true);
  EXPECT_EQ(s["preprocessing"]["spacing"], Json({4.0, 0.9, 0.9}));
  EXPECT_EQ(s["preprocessing"]["patch_size"], Json({8, 32, 24}));
  EXPECT_EQ(s["inference"]["allowed_mirroring_axes"], Json({0, 1, 2}));
  EXPECT_EQ(s["model"]["dynamic_axes"]["logits"]["4"], "spatial2");
  EXPECT_EQ(s["source"]["configuration"], "3d_fullres");
  EXPECT_EQ(s["source"]["plans_from"], "plans.json");
  EXPECT_EQ(s["labels"]["all_labels"], Json({0, 1, 2}));
}

}  // namespace
