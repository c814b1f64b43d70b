#pragma once
// MODEL.medport.json: what a front end needs beside an exported model to use it (which family,
// which graphs with which inputs and outputs, the preprocessing the weights cannot tell). One
// versioned envelope for every family and format; each family keeps its own typed section under
// its id (`"nnunet": {...}`), written and read by the family's own struct.
//
//   {"schema": "medport.sidecar", "schema_version": 2, "family": "nnunet", "variant": "PlainConvUNet",
//    "medport_version": "0.2.0", "format": "onnx", "precision": "fp32", "opset": 17,
//    "checkpoint": {"path": "...", "sha256": "..."},
//    "graphs": [{"name": "model", "file": "model.onnx", "inputs": [{"name": "input", "dtype": "float32",
//               "shape": ["batch", 1, "spatial0", "spatial1"]}], "outputs": [...]}],
//    "nnunet": {...}}
#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace medport::models {

inline constexpr int kSidecarSchemaVersion = 2;

// A dimension is a size or a symbolic name ("batch", "H").
using SidecarDim = std::variant<std::int64_t, std::string>;

struct TensorSpec {
  std::string name;
  std::string dtype = "float32";
  std::vector<SidecarDim> shape;
};

struct GraphSpec {
  std::string name;  // "model" for single-graph families; IRIS: "encode_support", "forward", "tune_step"
  std::string file;  // relative to the sidecar's folder
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  std::string precision = "fp32";  // "fp32" | "fp16" (this graph's own, e.g. IRIS tuning stays fp32)
};

struct Sidecar {
  int schema_version = kSidecarSchemaVersion;
  std::string family;    // registry id: nnunet | guided_diffusion | iris | timm
  std::string variant;   // network class, e.g. "PlainConvUNet", "resnet"
  std::string medport_version;
  std::string format = "onnx";   // exporter id
  std::string precision = "fp32";
  int opset = 17;
  std::string checkpoint;        // the source as given to convert
  std::string checkpoint_sha256;
  std::vector<GraphSpec> graphs;
  nlohmann::ordered_json family_section = nlohmann::ordered_json::object();  // under "<family>"

  const GraphSpec& graph(const std::string& name, const std::string& source) const;  // InputError if absent
  nlohmann::ordered_json to_json() const;
  // Throws InputError naming `source` for a malformed or older sidecar.
  static Sidecar from_json(const nlohmann::ordered_json& j, const std::string& source);
};

// The sidecar of a model file or folder: "dir/model.v2.onnx" -> "dir/model.v2.medport.json",
// "dir/m.mlpackage" -> "dir/m.medport.json", a folder (IRIS: several graphs) -> "DIR/medport.json".
std::filesystem::path sidecar_path_for(const std::filesystem::path& model);

// Reads and validates the sidecar of `model` (InputError naming the sidecar when it is missing,
// malformed, of another schema version, or of another family than `expected_family` if given).
Sidecar read_sidecar(const std::filesystem::path& model, const std::string& expected_family = {});
void write_sidecar(const std::filesystem::path& sidecar_path, const Sidecar& sidecar);

}  // namespace medport::models
