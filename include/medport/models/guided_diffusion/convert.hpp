#pragma once
// guided-diffusion UNet family pieces: the checkpoint's state dict -> UNetConfig, the choices the
// weights cannot tell (head layout, attention order, image size) from convert options, and the
// "guided_diffusion" sidecar section: the inferred architecture plus the EchoGAINS sampling
// defaults (linear schedule, 4000 steps respaced to 250, RePaint jumps 10 x 10) that
// `medport sample` / `medport inpaint` read.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/models/guided_diffusion/unet.hpp"

namespace medport::models::guided_diffusion {

// Every tensor of `network` (float32), as the state dict the UNet code reads.
StateDict state_dict_of(const ckpt::WeightSource& network);

// UNetChoices from convert's family options ("num_head_channels", "num_heads",
// "attention_order", "image_size"); unknown names or bad values throw UsageError. Giving
// num_heads without num_head_channels selects heads by count (num_head_channels -1).
UNetChoices choices_from_options(const std::map<std::string, std::string>& options);

nlohmann::ordered_json sidecar_section(const UNetConfig& config);

}  // namespace medport::models::guided_diffusion
