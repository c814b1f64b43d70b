#pragma once
// Which architecture family a state dict belongs to, decided from tensor names and shapes only.
#include <string>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::models {

struct TensorInfo {
  std::string path;  // dotted path in the checkpoint, e.g. "network_weights.encoder.stem.convs.0.conv.weight"
  Shape shape;
};

struct FamilyDetection {
  std::string family;        // stable id: nnunet_v2_plain, nnunet_v2_resenc, nnunet_v1_generic,
                             // guided_diffusion_unet, iris, unknown
  std::string display_name;  // "nnU-Net v2 PlainConvUNet", ...
  std::string state_dict_prefix;  // where the network's weights live ("network_weights." or "")
  std::vector<std::string> evidence;  // human-readable reasons
};

FamilyDetection detect_family(const std::vector<TensorInfo>& tensors);

}  // namespace medport::models
