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
};

struct FewshotSettings {
  std::string strategy = "one-shot";  // one-shot | ensemble | memory | tune
  std::string ensemble = "mean";      // mean | weighted | confidence
  std::vector<std::int64_t> classes;  // label values; empty: from the support masks / the bank
  std::map<std::int64_t, std::string> class_names;
  std::vector<SupportPair> supports;
  std::string bank;                   // bank .npz or postgresql://...#NAME; empty: MODEL_DIR/memory_bank.npz
  bool update_bank = false;
  std::string retrieval = "class";    // memory strategy: class (prototype by class id) | top-k
  int top_k = 3;                      // top-k: stored entries fused per class
  double fusion_temperature = kDefaultFusionTemperature;
  std::string bank_plot;              // PCA scatter PNG of the bank, drawn after the run
  int tune_steps = 20;
  double tune_lr = 1e-3;
  std::string normalize = "zscore";   // zscore | minmax | none
  MaskOptions masks;
  QualityOptions quality;
  OutputSettings output;
  int threads = 0;
  std::string provider = "cpu";  // execution provider of every IRIS session: cpu | cuda
  int device = 0;                // CUDA device index
  dicom::Selection dicom;             // DICOM inputs (images and masks): series and frames to read
};

// Checks values and combinations; throws UsageError. `plot_only`: the run has no queries and
// only draws --bank-plot, so strategy inputs (supports) are not required.
void validate(const FewshotSettings& settings, bool plot_only = false);

// "1,2,5" -> {1, 2, 5} (UsageError for anything but positive integers up to 255).
std::vector<std::int64_t> parse_class_list(const std::string& text);

}  // namespace medport::pipelines::fewshot
