#pragma once
// The `timm` model family: image classifiers trained with timm (ResNet, EfficientNet/MobileNetV3,
// ConvNeXt, ViT/DeiT), converted into one graph `image` (0..255 RGB) -> `probs` (+ `logits`) with
// the normalization and softmax inside. See docs/CLASSIFY.md.
//
// Options (ConvertOptions::family_options):
//   arch     timm model name when the checkpoint names none (a plain state dict) or to override it
//   ema      "true": convert the EMA weights of a timm train.py checkpoint (state_dict_ema)
//   classes  text file with one class name per line (its length must equal the classes)
//   mean/std "R,G,B" (or one value) in 0..1 units: replaces the training run's / timm's values
//   logits   "true": also output the logits
#include "medport/models/family.hpp"

namespace medport::models::timm {

class TimmFamily final : public ModelFamily {
 public:
  std::string_view id() const override { return "timm"; }
  std::string_view display_name() const override { return "timm image classifier"; }
  std::optional<Detection> detect(const ckpt::WeightSource& weights) const override;
  BuiltModel build(const ckpt::WeightSource& weights, const Detection& detection,
                   const ConvertContext& context) const override;
  std::vector<FamilyOption> options() const override;
};

const ModelFamily& timm_family();

}  // namespace medport::models::timm
