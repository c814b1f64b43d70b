#pragma once
// Settings of the few-shot pipeline (`medport fewshot`): defaults, then an inference.yaml/.json
// config (config_file.hpp), then the flags the user typed (each flag overrides its config key).
// Keys are listed in docs/IRIS.md.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "medport/dicom/volume.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"
#include "medport/pipelines/fewshot/preprocessing.hpp"
#include "medport/pipelines/fewshot/retrieval.hpp"

namespace medport::pipelines::fewshot {

struct SupportPair {
  std::filesystem::path image;
  std::filesystem::path mask;
};

// What the writer puts beside the label map.
struct OutputSettings {
  std::string format = "nii.gz";  // label map: nii.gz | npy | png
  bool montage = false;
  int montage_slices = 9;
  bool save_confidence = false;
  bool save_probabilities = false;  // <case>_probabilities.<npy|nii.gz>, (K, *query grid) float32
  bool save_logits = false;         // <case>_logits.npy, (K,D,H,W) at the model's volume
};

// Supports chosen from a folder of image/mask pairs (support_pool.hpp).
struct SupportPool {
  std::filesystem::path dir;          // empty: no pool
  int num_support = 0;                // 0: 1 for one-shot, else 3 (the guide's default)
  std::string select = "random";      // random | quality | diversity
  std::uint64_t seed = 0;
};

// The guide's `model:` block: what the config expects of the converted model, checked against it.
struct ModelExpectations {
  std::string checkpoint;             // reported only: fewshot runs MODEL_DIR
  std::optional<std::vector<std::int64_t>> volume_shape;
  std::optional<std::int64_t> in_channels, base_channels, num_query_tokens, num_attention_heads;
};

struct FewshotSettings {
  std::string strategy = "one-shot";  // one-shot | ensemble | memory | tune (guide: oneshot, memory_bank, tuning)
  std::string ensemble = "mean";      // mean | weighted | confidence (best per class) | soft (confidence-weighted)
  std::vector<double> ensemble_weights;  // weighted: one per support; empty: the supports' mask sizes
  std::vector<std::int64_t> classes;  // label values; empty: from the support masks / the bank
  std::map<std::int64_t, std::string> class_names;
  std::vector<SupportPair> supports;
  SupportPool pool;
  std::string bank;                   // bank .npz or postgresql://...#NAME; empty: MODEL_DIR/memory_bank.npz
  bool update_bank = false;           // supports (and labelled queries) are added to `bank`
  std::string retrieval = "class";    // memory strategy: class (prototype by class id) | top-k
  int top_k = 3;                      // top-k: stored entries fused per class
  double fusion_temperature = kDefaultFusionTemperature;
  std::string bank_plot;              // PCA scatter PNG of the bank, drawn after the run
  int tune_steps = 20;
  double tune_lr = 1e-3;
  PreprocessingSettings preprocessing;
  MaskOptions masks;
  double min_object_size = 0.0;       // components smaller than this are removed; 0: off
  std::string min_object_unit = "voxels";  // voxels | mm3
  QualityOptions quality;
  OutputSettings output;
  int batch_size = 1;                 // queries per network call
  int threads = 0;
  std::string provider = "cpu";       // execution provider of every IRIS session: cpu | cuda
  int device = 0;                     // CUDA device index
  // The provider was asked for by a config file (the guide's `device: cuda`), not by --provider:
  // cuda falls back to cpu with a note when this machine cannot run it.
  bool provider_from_config = false;
  dicom::Selection dicom;             // DICOM inputs (images and masks): series and frames to read
  ModelExpectations model;
};

// Supports typed on the command line (--support IMG --support-mask MASK, pairwise; UsageError
// when the counts differ) replace the config's supports and, unless a pool was typed too, its
// pool; a pool typed (--support-dir) replaces the config's supports. Several supports with no
// strategy typed and no config file read run the guide's default, ensemble.
struct TypedSupports {
  std::vector<std::string> images, masks;
  bool pool = false;      // --support-dir was typed
  bool strategy = false;  // --strategy was typed
  bool config = false;    // a --config file was read
};
void apply_typed_supports(const TypedSupports& typed, FewshotSettings& settings);

// The queries of a run with these settings: a --query-mask goes with a single query, and
// update_bank needs supports, a pool or the query's mask to learn from. UsageError otherwise.
void check_queries(const FewshotSettings& settings, std::size_t queries, bool query_mask);

// Checks each value on its own (names, ranges); throws UsageError. A config file's values are
// checked with it as soon as the file is read, so its errors name the file.
void validate_values(const FewshotSettings& settings);
// validate_values, then the combinations; throws UsageError. `plot_only`: the run has no queries
// and only draws --bank-plot, so strategy inputs (supports) are not required.
void validate(const FewshotSettings& settings, bool plot_only = false);

// A strategy name as medport or the IRIS guide spells it -> medport's: one-shot (oneshot,
// one_shot), ensemble, memory (memory_bank), tune (tuning). UsageError for anything else.
std::string canonical_strategy(const std::string& name);

// "64" or "64vox" (voxels), "50mm3" (mm3; mm2 for 2D queries) into settings.min_object_size and
// min_object_unit. UsageError otherwise.
void parse_min_object_size(const std::string& text, FewshotSettings& settings);

// "1,2,5" -> {1, 2, 5} (UsageError for anything but positive integers up to 255).
std::vector<std::int64_t> parse_class_list(const std::string& text);

// "-200,300" -> {-200, 300}: `count_min`..`count_max` finite numbers separated by commas
// (UsageError naming `flag` otherwise).
std::vector<double> parse_numbers(const std::string& text, const std::string& flag, std::size_t count_min,
                                  std::size_t count_max);

}  // namespace medport::pipelines::fewshot
