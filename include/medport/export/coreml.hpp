#pragma once
// Core ML export of a graph::Graph, written by medport itself (no coremltools, any OS):
//   - ML Program (default): an `.mlpackage` folder - Manifest.json, Data/com.apple.CoreML/model.mlmodel
//     (the Model protobuf holding a MIL program) and Data/com.apple.CoreML/weights/weight.bin (MIL
//     blob storage v2, weights streamed from the graph's initializers);
//   - NeuralNetwork: one `.mlmodel` with N-D array layers for older targets (static shapes only).
// Identical graphs and options give identical bytes (identifiers derived from the content).
// The reading side turns a written file back into a graph::Graph (read_coreml), which medport
// executes with ONNX Runtime: an independent check of what was written.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "medport/graph/ir.hpp"
#include "medport/tensor.hpp"

namespace medport::coreml {

enum class Backend { MLProgram, NeuralNetwork };

// A deployment target and what it implies.
struct Target {
  std::string name;             // "iOS15", "macOS12", ...
  int specification_version = 6;
  int ios = 15;                 // the iOS release with the same Core ML (macOS12 -> 15)
  std::string opset() const;    // MIL opset: "CoreML5" for iOS15 ... "CoreML8" for iOS18
};
// iOS13..iOS18, macOS10.15 / macOS10_15, macOS11..macOS15 (case-insensitive); UsageError otherwise.
Target parse_target(const std::string& name);
Target default_target(Backend backend);  // iOS15 (ML Program), iOS14 (NeuralNetwork)

// Flexible sizes of one input: ranges per dim (fixed dims have lower == upper) or a list of
// whole shapes. upper -1: unbounded.
struct DimRange {
  std::int64_t lower = 1;
  std::int64_t upper = -1;
};
struct InputShape {
  Shape fixed;                            // the shape when fixed, else the default shape
  std::vector<DimRange> ranges;           // non-empty: a range per dim
  std::vector<Shape> enumerated;          // non-empty: the allowed shapes
  bool flexible() const { return !ranges.empty() || !enumerated.empty(); }
};

// "input=1,1,256,256;t=1" -> fixed shapes by input name.
std::map<std::string, Shape> parse_input_shapes(const std::string& text);
// "input=1,1,64:512,64:512" (a:b, a:* for unbounded) -> ranges.
std::map<std::string, std::vector<DimRange>> parse_shape_ranges(const std::string& text);
// "input=1,1,128,128|1,1,256,256" -> enumerated shapes.
std::map<std::string, std::vector<Shape>> parse_enumerated_shapes(const std::string& text);

struct Metadata {
  std::string description;
  std::string author;
  std::string license;
  std::string version;
  std::vector<std::pair<std::string, std::string>> user;  // user-defined keys, in this order
};

struct WriteOptions {
  Backend backend = Backend::MLProgram;
  bool fp16 = true;      // compute precision (ML Program) / weight storage (NeuralNetwork)
  bool fp16_io = false;  // float inputs/outputs declared FLOAT16 (ML Program, iOS16+)
  Target target = default_target(Backend::MLProgram);
  // Per input name; inputs with symbolic dims and no entry here are refused (UsageError).
  std::map<std::string, InputShape> input_shapes;
  Metadata metadata;
};

struct WriteReport {
  std::filesystem::path path;             // the .mlpackage folder or .mlmodel file
  std::vector<std::filesystem::path> files;  // every file written
  std::size_t weight_bytes = 0;           // bytes of weight data stored
  std::size_t blobs = 0;                  // weight.bin records (ML Program)
  std::map<std::string, std::size_t> op_counts;  // MIL ops / NeuralNetwork layers by type
};

// Writes `graph` to `path` (".mlpackage" for ML Program, ".mlmodel" for NeuralNetwork; an
// existing package folder is replaced whole, never half-written). Throws InputError (exit 3)
// naming the graph and what is missing for an unsupported op, an op the target lacks or a
// dynamic shape the backend cannot express; UsageError for bad options.
WriteReport write_coreml(const graph::Graph& graph, const std::filesystem::path& path, const WriteOptions& options);

// ---- reading back --------------------------------------------------------------------------

struct FeatureInfo {
  std::string name;
  std::string dtype;           // "float32", "float16", "int32"
  std::vector<std::int64_t> shape;  // the default shape (empty when undeclared)
  std::string flexibility;     // "", "ranges [1..1, 1..1, 64..512, 64..512]", "enumerated: 2 shapes"
};

struct ModelSummary {
  std::filesystem::path path;
  std::string type;            // "mlProgram" | "neuralNetwork"
  int specification_version = 0;
  std::string opset;           // ML Program: the function's opset
  std::vector<FeatureInfo> inputs;
  std::vector<FeatureInfo> outputs;
  Metadata metadata;
  std::map<std::string, std::size_t> op_counts;  // non-const ops / layers by type
  std::size_t const_ops = 0;
  std::size_t blob_count = 0;
  std::size_t weight_bytes = 0;  // bytes in weight.bin blobs (ML Program) or layer weights
  std::int64_t weight_elements = 0;
};

// Decodes the spec (and checks weight.bin's records) without building a graph. InputError
// naming the file for anything malformed.
ModelSummary summarize_coreml(const std::filesystem::path& path);
// `medport inspect` output: readable text, or JSON (schema medport.coreml-inspect/1).
std::string summary_text(const ModelSummary& summary);
std::string summary_json(const ModelSummary& summary);

// The model as a graph::Graph with ONNX semantics (inputs/outputs keep their Core ML names and
// declared types; int32 stays int32). Flexible inputs keep their default shape's rank with
// symbolic dims where they may vary. Throws InputError naming the file and the op it cannot read.
graph::Graph read_coreml(const std::filesystem::path& path);

// True for a path that names a Core ML model (".mlpackage" folder or ".mlmodel" file).
bool is_coreml_path(const std::filesystem::path& path);

}  // namespace medport::coreml
