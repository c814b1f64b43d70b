#pragma once
// An nnU-Net v2 trained model as found on disk: the checkpoint of one fold plus the plans and
// dataset.json that describe it, resolved the way nnunetv2's predictor does.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "medport/checkpoint/weight_source.hpp"
#include "medport/models/nnunet/architecture.hpp"
#include "medport/tensor.hpp"

namespace medport::models::nnunet {

// Where a SOURCE argument points: a .pth, a fold folder (fold_0/) or a model folder
// (Trainer__Plans__config/ with plans.json, dataset.json, fold_*/).
struct SourceRequest {
  std::filesystem::path source;
  std::optional<int> fold;          // required when a model folder has several folds
  std::string checkpoint = "final";  // "final" -> checkpoint_final.pth, "best" -> checkpoint_best.pth
};

struct LocatedSource {
  std::filesystem::path checkpoint;    // the .pth to read
  std::filesystem::path model_folder;  // folder with plans.json/dataset.json; empty if none
  std::optional<int> fold;             // from the fold_N folder name, if any
};

// Throws UsageError for a bad --fold/--checkpoint, InputError for missing files.
LocatedSource locate_source(const SourceRequest& request);
LocatedSource locate_source(const std::filesystem::path& source);  // single fold, final checkpoint
// True when `path` looks like an nnU-Net source (a model folder, a fold folder or a .pth).
bool looks_like_nnunet_source(const std::filesystem::path& path);

struct Model {
  LocatedSource location;
  std::string checkpoint_sha256;
  Json plans;
  Json dataset_json;
  std::string plans_origin;      // "plans.json" | "checkpoint init_args"
  std::string configuration;     // e.g. "2d", "3d_fullres"
  Json resolved_configuration;   // inherits_from applied
  Architecture architecture;
  std::string trainer_name;
  std::optional<std::vector<std::int64_t>> mirroring_axes;  // inference_allowed_mirroring_axes
  std::optional<std::int64_t> fold;
  std::optional<std::int64_t> current_epoch;
  ckpt::WeightSource network;  // the network_weights sub-tree (keys without "module.")
};

// Reads the checkpoint (safely: no Python, nothing executed) and the plans/dataset.json.
Model load_model(const LocatedSource& location);
// The same with the checkpoint already open (`file` is its root; convert opens it once).
// Safetensors files hold the network weights (at the root or under "network_weights."); the
// plans come from the model folder, or from "plans"/"dataset_json" JSON strings in the file's
// metadata, which may also give "configuration", "fold", "trainer_name" and
// "inference_allowed_mirroring_axes" (a JSON list) like the trainer checkpoint does.
Model load_model(const LocatedSource& location, const ckpt::WeightSource& file);

}  // namespace medport::models::nnunet
