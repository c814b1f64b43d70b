#pragma once
// One interface per export format (`medport convert --format ID`): the families hand their graphs
// and sidecar to convert(), which applies --fp16 and passes them here. Adding a format touches
// src/export/<format>/ plus one line in src/export/exporters.cpp.
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "medport/models/family.hpp"

namespace medport::exporters {

struct ExportOptions {
  bool fp16 = false;  // --fp16 was asked for
  // Format-specific choices by name (Core ML: "backend", "deployment_target", "fp16_io",
  // "input_shape", ...). An exporter refuses names it does not declare (UsageError).
  std::map<std::string, std::string> options;
};

struct ExportResult {
  // One entry per graph written, same order as the input: the file (or package folder) name
  // relative to the output folder (single graph: relative to the output's parent).
  std::vector<std::string> graph_files;
  std::vector<std::filesystem::path> files;  // everything written, for the report
};

class Exporter {
 public:
  virtual ~Exporter() = default;
  virtual std::string_view id() const = 0;  // "onnx", "coreml"
  virtual std::string_view description() const = 0;
  // With --fp16: true when convert() should hand over graphs already converted by
  // graph::convert_to_fp16 (ONNX); false when the format applies its own precision (Core ML).
  virtual bool wants_fp16_graphs() const { return true; }
  // File name ending of one graph (".onnx", ".mlpackage").
  virtual std::string_view extension() const = 0;
  virtual std::vector<std::string> option_names() const { return {}; }
  // True when the written model itself records the checkpoint's SHA-256 (Core ML metadata):
  // convert() then waits for the hash before write() instead of after it.
  virtual bool embeds_checkpoint_hash() const { return false; }
  // Writes the graphs. `output` is the file (single graph) or the folder (several graphs; it
  // exists). `model.sidecar` is complete except for the graphs' file names (and the checkpoint's
  // hash unless embeds_checkpoint_hash()).
  virtual ExportResult write(const models::BuiltModel& model, const std::filesystem::path& output,
                             const ExportOptions& options) const = 0;
};

const std::vector<const Exporter*>& exporters();
const Exporter& find_exporter(std::string_view id);  // UsageError listing the formats

}  // namespace medport::exporters
