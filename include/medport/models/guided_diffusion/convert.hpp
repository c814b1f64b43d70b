#pragma once
// guided-diffusion UNet checkpoint (plain state_dict, optionally under "state_dict."/"model."/
// "module.") -> OUT.onnx + OUT.medport.json. The sidecar records the inferred architecture, the
// choices the weights cannot tell, and the EchoGAINS sampling defaults (linear schedule, 4000
// steps respaced to 250, RePaint jumps 10 x 10) for `medport sample` / `medport inpaint`.
#include <filesystem>
#include <map>
#include <string>

#include "medport/models/converter.hpp"
#include "medport/models/guided_diffusion/unet.hpp"

namespace medport::models::guided_diffusion {

struct LoadedUNet {
  std::filesystem::path checkpoint;
  std::string prefix;  // stripped from the checkpoint's keys
  StateDict state_dict;
  UNetConfig config;
};

LoadedUNet load_unet(const std::filesystem::path& checkpoint, const UNetChoices& choices = {});

// UNetChoices from ConvertRequest::family_options ("num_head_channels", "num_heads",
// "attention_order", "image_size"); unknown names or bad values throw UsageError. Giving
// num_heads without num_head_channels selects heads by count (num_head_channels -1).
UNetChoices choices_from_options(const std::map<std::string, std::string>& options);

ConvertReport convert_guided_diffusion(const ConvertRequest& request, const UNetChoices& choices = {});
// Entry for models::family_converters() (family id "guided_diffusion_unet").
FamilyConverter guided_diffusion_family_converter();

std::filesystem::path unet_sidecar_path(const std::filesystem::path& onnx_path);  // OUT.medport.json

}  // namespace medport::models::guided_diffusion
