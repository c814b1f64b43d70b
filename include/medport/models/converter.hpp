#pragma once
// `medport convert`: checkpoint -> ONNX (+ sidecar) for every supported model family.
//
// A family plugs in with one FamilyConverter entry in src/models/converter.cpp: `claims` says
// whether a SOURCE path is laid out the family's way (a folder structure, a file name), and
// `families` lists the detect_family() ids it converts. convert() asks `claims` first, then
// falls back to reading the checkpoint and dispatching on the detected family.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace medport::models {

struct ConvertRequest {
  std::filesystem::path source;  // .pth/.pt file, or a family-specific folder
  std::filesystem::path output;  // OUT.onnx; the sidecar goes to OUT.medport.json
  std::optional<int> fold;
  std::string checkpoint = "final";  // "final" | "best" (nnU-Net)
  bool fp16 = false;
  int opset = 17;
  bool deep_supervision = false;
  std::filesystem::path config;  // hyperparameters the weights cannot tell (IRIS: config.json/.yaml)
  // Family-specific choices the weights cannot tell, by name (guided-diffusion:
  // "num_head_channels", "num_heads", "attention_order", "image_size"). A family refuses names it
  // does not know (UsageError); families that take none ignore the map.
  std::map<std::string, std::string> family_options;
};

struct ConvertReport {
  std::string family;         // stable id, e.g. "nnunet-v2"
  std::string network_class;  // e.g. "PlainConvUNet"
  std::filesystem::path checkpoint;
  std::vector<std::string> details;  // "stages: 7", "configuration: 2d", ...
  std::int64_t parameters = 0;       // each storage counted once
  std::size_t tensors_used = 0;      // state dict entries the graph accounts for (aliases included)
  std::size_t tensors_total = 0;     // state dict entries in the checkpoint
  std::vector<std::filesystem::path> files;  // written outputs
};

struct FamilyConverter {
  std::string name;                   // "nnunet-v2"
  std::vector<std::string> families;  // detect_family ids handled, e.g. "nnunet_v2_plain"
  std::function<bool(const std::filesystem::path& source)> claims;
  std::function<ConvertReport(const ConvertRequest&)> convert;
};

const std::vector<FamilyConverter>& family_converters();

// Throws UsageError (bad options), InputError (bad or unsupported input).
ConvertReport convert(const ConvertRequest& request);

}  // namespace medport::models
