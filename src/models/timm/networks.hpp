#pragma once
// One builder per timm architecture family. Each reads its structure from the weights (stages,
// blocks, widths, kernels, stems, heads), takes from the architecture name only what the weights
// cannot tell (strides, activations, padding style, norm epsilon, attention heads), appends its
// layers to `net.b` after `x` (the normalized image) and returns the logits (batch, classes).
#include <utility>

#include "medport/models/timm/arch.hpp"
#include "models/timm/layers.hpp"

namespace medport::models::timm {

graph::Value build_resnet(const Net& net, const Feature& x, const Arch& arch);
graph::Value build_efficientnet(const Net& net, const Feature& x, const Arch& arch);  // EfficientNet and MobileNetV3
graph::Value build_convnext(const Net& net, const Feature& x, const Arch& arch);
graph::Value build_vit(const Net& net, const Feature& x, const Arch& arch);
// The one input size a ViT's position embeddings fit (grid x patch), from the weights.
std::pair<std::int64_t, std::int64_t> vit_input_size(const ckpt::WeightSource& w);

}  // namespace medport::models::timm
