#pragma once
// `medport convert`: the one routine from a trained checkpoint to an exported model.
//   file -> WeightSource (opened once) -> family (detected from names and shapes) -> graphs +
//   sidecar -> --fp16 -> exporter (--format) -> files + MODEL.medport.json
// Nothing is left half-written: if any step fails, the files this run wrote are removed.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "medport/export/exporter.hpp"
#include "medport/models/family.hpp"

namespace medport::pipelines {

struct ConvertRequest {
  std::filesystem::path source;  // checkpoint file, or a folder a family recognises
  std::filesystem::path output;  // OUT.<ext> for single-graph families, a folder for several graphs
  std::string format = "onnx";   // exporter id
  models::ConvertOptions options;
  exporters::ExportOptions export_options;  // fp16 is taken from options.fp16
};

struct ConvertReport {
  std::string family;         // registry id, e.g. "nnunet"
  std::string network_class;  // e.g. "PlainConvUNet"
  std::string format;
  std::filesystem::path checkpoint;  // the weights file read
  std::vector<std::string> details;
  std::int64_t parameters = 0;
  std::size_t tensors_used = 0;
  std::size_t tensors_total = 0;
  std::vector<std::filesystem::path> files;  // written outputs, the sidecar last
};

// Throws UsageError (bad options), InputError (bad or unsupported input), EngineError.
ConvertReport convert(const ConvertRequest& request);

}  // namespace medport::pipelines
