#include "medport/models/detect_family.hpp"

#include "test_support.hpp"

using medport::models::detect_family;
using medport::models::TensorInfo;

namespace {

TEST(DetectFamily, PlainConvUNetUnderNetworkWeights) {
  std::vector<TensorInfo> t{
      {"network_weights.encoder.stages.0.0.convs.0.conv.weight", {32, 1, 3, 3}},
      {"network_weights.encoder.stages.1.0.convs.0.conv.weight", {64, 32, 3, 3}},
      {"network_weights.decoder.transpconvs.0.weight", {64, 32, 2, 2}},
      {"network_weights.decoder.seg_layers.0.weight", {3, 32, 1, 1}},
      {"optimizer_state.state.0.momentum_buffer", {32, 1, 3, 3}},
  };
  const auto d = detect_family(t);
  EXPECT_EQ(d.family, "nnunet_v2_plain");
  EXPECT_EQ(d.state_dict_prefix, "network_weights.");
  ASSERT_FALSE(d.evidence.empty());
}

TEST(DetectFamily, ResidualEncoderUNet) {
  std::vector<TensorInfo> t{
      {"encoder.stem.convs.0.conv.weight", {8, 1, 3, 3, 3}},
      {"encoder.stages.0.blocks.0.conv1.conv.weight", {8, 8, 3, 3, 3}},
      {"decoder.transpconvs.0.weight", {16, 8, 2, 2, 2}},
      {"decoder.seg_layers.0.weight", {3, 8, 1, 1, 1}},
  };
  EXPECT_EQ(detect_family(t).family, "nnunet_v2_resenc");
}

TEST(DetectFamily, GuidedDiffusionIrisGenericUNetAndUnknown) {
  EXPECT_EQ(detect_family({{"time_embed.0.weight", {256, 64}},
                           {"input_blocks.0.0.weight", {64, 3, 3, 3}},
                           {"out.2.weight", {6, 64, 3, 3}}})
                .family,
            "guided_diffusion_unet");
  EXPECT_EQ(detect_family({{"model_state.task_encoder.query_tokens", {1, 8, 128}},
                           {"model_state.mask_decoder.final_conv.weight", {1, 8, 1, 1, 1}}})
                .family,
            "iris");
  EXPECT_EQ(detect_family({{"state_dict.conv_blocks_context.0.blocks.0.conv.weight", {32, 1, 3, 3}},
                           {"state_dict.seg_outputs.0.weight", {3, 32, 1, 1}}})
                .family,
            "nnunet_v1_generic");
  EXPECT_EQ(detect_family({{"fc.weight", {10, 20}}}).family, "unknown");
  EXPECT_EQ(detect_family({}).family, "unknown");
}

}  // namespace
