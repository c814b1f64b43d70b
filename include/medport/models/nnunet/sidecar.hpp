#pragma once
// The "nnunet" section of OUT.medport.json (models/sidecar.hpp): everything a segmentation
// pipeline needs beside the graph to reproduce nnU-Net v2 inference (preprocessing, sliding
// window, export). Schema: docs/NNUNET.md.
#include <filesystem>
#include <string>
#include <vector>

#include "medport/models/nnunet/architecture.hpp"
#include "medport/models/nnunet/model.hpp"

namespace medport::models::nnunet {

struct SidecarOptions {
  std::vector<std::string> output_names;
  bool fp16 = false;
  bool deep_supervision = false;
  int opset = 17;
};

Json make_sidecar(const Model& model, const SidecarOptions& options);

// "dir/model.onnx" -> "dir/model.medport.json".
std::filesystem::path sidecar_path_for(const std::filesystem::path& onnx_path);

}  // namespace medport::models::nnunet
