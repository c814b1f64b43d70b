#pragma once
// The deployment contract of a converted timm classifier and its sidecar section ("timm": {...}).
//
// Graph: input `image` float32 (batch, 3, H, W), RGB in [0, 255]; the graph computes
// (image / 255 - mean) / std itself; output `probs` = softmax of the logits over the classes
// (batch, K); with --logits also `logits` (batch, K).
//
// mean/std come from, in this order: --mean/--std, the training run's args.mean/std (timm's
// train.py), timm's default for the architecture, ImageNet's. The section records which and why,
// with the input size, interpolation, crop fraction and mode that timm's evaluation transform uses.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace medport::models::timm {

inline constexpr const char* kFamilyId = "timm";
inline constexpr const char* kImageInput = "image";
inline constexpr const char* kProbsOutput = "probs";
inline constexpr const char* kLogitsOutput = "logits";

// Where one setting came from (recorded next to it so a reader knows whether to trust it).
struct Provenance {
  std::string source;  // "option" | "training_args" | "timm_default" | "imagenet_default" | "checkpoint" | ...
  std::string reason;  // one sentence
};

struct ClassifierConfig {
  std::string arch;         // timm name ("resnet50")
  std::string arch_family;  // "resnet" | "efficientnet" | "mobilenetv3" | "convnext" | "vit"
  std::string weights;      // sub-tree the weights came from ("state_dict", "state_dict_ema", "model", "")
  std::int64_t num_classes = 0;
  std::vector<std::string> class_names;  // empty: unknown (results use class indices)
  Provenance class_names_from;
  std::int64_t height = 224;
  std::int64_t width = 224;
  Provenance input_size_from;
  std::string interpolation = "bicubic";
  Provenance interpolation_from;
  double crop_pct = 0.875;
  std::string crop_mode = "center";
  Provenance crop_from;
  std::array<double, 3> mean{};
  std::array<double, 3> std{};
  Provenance normalization_from;
  bool logits_output = false;

  // A class's display name: its name when known, else its index.
  std::string class_label(std::int64_t index) const;
  nlohmann::ordered_json to_json() const;
  // Throws InputError naming `source` when a field is missing or malformed.
  static ClassifierConfig from_json(const nlohmann::ordered_json& section, const std::string& source);
};

// "0.5,0.5,0.5", "0.5 0.5 0.5" or one value for all three channels; UsageError naming `flag`
// otherwise (std must be positive).
std::array<double, 3> parse_channel_triple(const std::string& text, const std::string& flag, bool positive);

// Class names from a text file, one per line (blank trailing lines ignored; names trimmed).
// InputError naming the file when it cannot be read, has an empty name, or its line count differs
// from `num_classes`.
std::vector<std::string> read_class_file(const std::string& path, std::int64_t num_classes);

}  // namespace medport::models::timm
