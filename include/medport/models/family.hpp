#pragma once
// One interface per model family (the seam every front end uses), modelled on llama.cpp's
// per-architecture tables: a family registers once in src/models/families.cpp and provides
//   - its id (one spelling everywhere: convert reports, sidecars, inspect, the server),
//   - where the weights are when SOURCE is a folder (nnU-Net model and fold folders),
//   - detection with evidence from tensor names and shapes alone (no tensor data is read),
//   - the graphs, built from weights it requires by name and shape (configuration inferred from
//     the weights; what they cannot tell comes from options), plus its sidecar section.
// Adding a family touches its own folder plus one line in the table.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/graph/ir.hpp"
#include "medport/models/sidecar.hpp"

namespace medport::models {

struct Detection {
  std::string family;        // registry id
  std::string variant;       // e.g. "PlainConvUNet", "ResidualEncoderUNet", "UNetModel", "resnet"
  std::string display_name;  // "nnU-Net v2 PlainConvUNet"
  std::string prefix;        // sub-tree holding the network's weights ("network_weights", "" ...)
  std::vector<std::string> evidence;  // human-readable reasons, each naming tensors or keys
  // Recognised but not convertible (e.g. nnU-Net v1): why, for the error message.
  std::string unsupported_reason;
};

// What the user asked for that a family may read (flags of `medport convert`).
struct ConvertOptions {
  std::optional<int> fold;            // nnU-Net
  std::string checkpoint = "final";   // nnU-Net: final | best
  bool deep_supervision = false;      // nnU-Net
  bool fp16 = false;                  // recorded in the sidecar (convert() applies the pass)
  int opset = 17;
  std::filesystem::path config;       // hyperparameters the weights cannot tell (IRIS, ...)
  // Named choices the weights cannot tell (guided-diffusion "num_head_channels", timm "arch",
  // "mean", ...). A family refuses names it does not declare in options() (UsageError).
  std::map<std::string, std::string> family_options;
};

struct ConvertContext {
  std::filesystem::path source;   // as the user gave it (file or folder)
  std::filesystem::path weights;  // the weights file read
  ConvertOptions options;
};

struct NamedGraph {
  std::string name;  // "model" for single-graph families
  graph::Graph graph;
  bool fp16 = true;  // false: stays float32 under --fp16 (IRIS's tuning graph)
  // Formats other than ONNX may skip it (the IRIS tuning graph has no Core ML form).
  bool onnx_only = false;
};

// A file a family writes beside its graphs (IRIS: the training memory bank).
struct ExtraFile {
  std::string name;
  std::function<void(const std::filesystem::path&)> write;
};

struct BuiltModel {
  std::vector<NamedGraph> graphs;
  Sidecar sidecar;  // envelope fields the family knows (family, variant, graphs' I/O, its section)
  std::vector<std::string> details;  // report lines ("stages: 7, features 32/64/...")
  std::int64_t parameters = 0;
  std::size_t tensors_used = 0;
  std::size_t tensors_total = 0;
  std::vector<ExtraFile> extra_files;
};

struct FamilyOption {
  std::string name;  // key in ConvertOptions::family_options, e.g. "num_head_channels"
  std::string help;
};

class ModelFamily {
 public:
  virtual ~ModelFamily() = default;
  virtual std::string_view id() const = 0;
  virtual std::string_view display_name() const = 0;
  // The weights file SOURCE means when it is laid out the family's way (a model folder, a fold
  // folder); nullopt when not. Throws UsageError/InputError for a recognised but incomplete one.
  virtual std::optional<std::filesystem::path> locate_weights(const std::filesystem::path& source,
                                                              const ConvertOptions& options) const {
    (void)source;
    (void)options;
    return std::nullopt;
  }
  // From the index (names, dtypes, shapes) and metadata only.
  virtual std::optional<Detection> detect(const ckpt::WeightSource& weights) const = 0;
  virtual BuiltModel build(const ckpt::WeightSource& weights, const Detection& detection,
                           const ConvertContext& context) const = 0;
  virtual std::vector<FamilyOption> options() const { return {}; }
  // True when the family writes several graphs (the output is a folder).
  virtual bool multi_graph() const { return false; }
};

// The one table of families, in detection order.
const std::vector<const ModelFamily*>& model_families();
const ModelFamily* find_family(std::string_view id);  // nullptr when unknown

// The first family whose detect() matches; nullopt when none does.
std::optional<Detection> detect_family(const ckpt::WeightSource& weights);

}  // namespace medport::models
