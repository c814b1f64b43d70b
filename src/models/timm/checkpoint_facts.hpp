#pragma once
// What a timm checkpoint says besides its weights: the architecture name, the training run's
// arguments (train.py's argparse Namespace), class names, and where the weights are.
#include <optional>
#include <string>
#include <vector>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/models/timm/arch.hpp"

namespace medport::models::timm {

struct NamedValue {
  std::string value;
  std::string from;  // "checkpoint 'arch'", "args.model", ...
};

// train.py's args fields medport reads (absent when None/unset).
struct TrainingArgs {
  std::optional<std::array<double, 3>> mean;
  std::optional<std::array<double, 3>> std;
  std::optional<std::pair<std::int64_t, std::int64_t>> input_size;  // input_size [C, H, W] or img_size
  std::optional<std::string> interpolation;
  std::optional<double> crop_pct;
  std::optional<std::string> crop_mode;
  std::optional<std::int64_t> num_classes;
};

struct CheckpointFacts {
  std::optional<NamedValue> arch;
  bool has_training_args = false;
  TrainingArgs args;
  std::vector<std::string> class_names;  // the checkpoint's `class_names`, if any
  bool has_ema = false;                  // a state_dict_ema sub-tree exists
};

// From the root object (torch) or the metadata strings (safetensors); never throws for missing
// fields, InputError for malformed ones it needs (e.g. a mean of 2 values).
CheckpointFacts read_checkpoint_facts(const ckpt::WeightSource& root);

// Signature of the timm family whose state-dict layout the weights have, with evidence; nullopt
// when none matches.
struct LayoutMatch {
  ArchFamily family;  // EfficientNet stands for both builder families (EfficientNet, MobileNetV3)
  std::vector<std::string> evidence;
};
std::optional<LayoutMatch> match_layout(const ckpt::WeightSource& view);

// Sub-trees a timm classifier's weights are found under, in the order tried.
const std::vector<std::string>& weight_prefixes();

}  // namespace medport::models::timm
