// Family detection through the one table (models::model_families()), from names and shapes only.
#include <gtest/gtest.h>

#include <set>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/models/family.hpp"

namespace {

using medport::Shape;
using medport::ckpt::WeightInfo;
using medport::ckpt::WeightSource;
using medport::models::detect_family;

// An index without any tensor data: detection must not need more.
WeightSource names(std::vector<std::pair<std::string, Shape>> tensors) {
  std::vector<WeightInfo> index;
  for (auto& [name, shape] : tensors) index.push_back({name, medport::DType::F32, shape});
  return WeightSource::index_only(std::move(index), nullptr, "test.pth");
}

TEST(DetectFamily, PlainConvUNetUnderNetworkWeights) {
  const auto d = detect_family(names({
      {"network_weights.encoder.stages.0.0.convs.0.conv.weight", {32, 1, 3, 3}},
      {"network_weights.encoder.stages.1.0.convs.0.conv.weight", {64, 32, 3, 3}},
      {"network_weights.decoder.transpconvs.0.weight", {64, 32, 2, 2}},
      {"network_weights.decoder.seg_layers.0.weight", {3, 32, 1, 1}},
      {"optimizer_state.state.0.momentum_buffer", {32, 1, 3, 3}},
  }));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->family, "nnunet");
  EXPECT_EQ(d->variant, "PlainConvUNet");
  EXPECT_EQ(d->prefix, "network_weights");
  EXPECT_TRUE(d->unsupported_reason.empty());
  ASSERT_FALSE(d->evidence.empty());
}

TEST(DetectFamily, ResidualEncoderUNetWithDataParallelPrefix) {
  const auto d = detect_family(names({
      {"module.encoder.stem.convs.0.conv.weight", {8, 1, 3, 3, 3}},
      {"module.encoder.stages.0.blocks.0.conv1.conv.weight", {8, 8, 3, 3, 3}},
      {"module.decoder.transpconvs.0.weight", {16, 8, 2, 2, 2}},
      {"module.decoder.seg_layers.0.weight", {3, 8, 1, 1, 1}},
  }));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->family, "nnunet");
  EXPECT_EQ(d->variant, "ResidualEncoderUNet");
}

TEST(DetectFamily, GuidedDiffusionIrisGenericUNetAndUnknown) {
  const auto gd = detect_family(
      names({{"time_embed.0.weight", {256, 64}}, {"input_blocks.0.0.weight", {64, 3, 3, 3}}, {"out.2.weight", {6, 64, 3, 3}}}));
  ASSERT_TRUE(gd);
  EXPECT_EQ(gd->family, "guided_diffusion");
  const auto iris = detect_family(names({{"model_state.task_encoder.query_tokens", {1, 8, 128}},
                                         {"model_state.mask_decoder.final_conv.weight", {1, 8, 1, 1, 1}}}));
  ASSERT_TRUE(iris);
  EXPECT_EQ(iris->family, "iris");
  EXPECT_EQ(iris->prefix, "model_state");
  const auto v1 = detect_family(names({{"state_dict.conv_blocks_context.0.blocks.0.conv.weight", {32, 1, 3, 3}},
                                       {"state_dict.seg_outputs.0.weight", {3, 32, 1, 1}}}));
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->family, "nnunet");
  EXPECT_EQ(v1->variant, "Generic_UNet");
  EXPECT_FALSE(v1->unsupported_reason.empty());
  EXPECT_FALSE(detect_family(names({{"fc.weight", {10, 20}}})));
  EXPECT_FALSE(detect_family(names({})));
}

TEST(FamilyTable, OneEntryPerFamilyWithUniqueIds) {
  std::set<std::string> ids;
  for (const auto* f : medport::models::model_families()) {
    EXPECT_TRUE(ids.insert(std::string(f->id())).second) << f->id();
    EXPECT_EQ(medport::models::find_family(f->id()), f);
  }
  EXPECT_TRUE(ids.count("nnunet") && ids.count("guided_diffusion") && ids.count("iris"));
  EXPECT_EQ(medport::models::find_family("nnunet-v2"), nullptr);
}

}  // namespace
