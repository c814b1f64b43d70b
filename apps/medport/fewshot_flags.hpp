#pragma once
// What `medport fewshot`'s flags hold (cmd_fewshot.cpp registers them and makes the few-shot
// settings from them: the defaults, then the --config file, then each flag typed).
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "dicom_flags.hpp"
#include "medport/pipelines/fewshot/retrieval.hpp"
#include "provider_flags.hpp"

namespace medport::cli {

struct FewshotFlags {
  std::string model_dir;
  std::vector<std::string> supports, support_masks, queries;
  std::string query_dir, output_dir, query_mask, config;
  std::string strategy, ensemble, bank, classes, format, normalize, retrieval, bank_plot;
  std::string resize, modality, clip, percentiles, target_spacing, min_object_size, ensemble_weights, support_dir, select;
  bool update_bank = false, largest_component = false, montage = false, save_confidence = false, overwrite = false;
  bool fill_holes = false, save_probabilities = false, save_logits = false;
  int tune_steps = 20, morphology_radius = 0, connectivity = 26, threads = 0, top_k = 3, class_id = 0, num_support = 0;
  int batch_size = 1;
  std::uint64_t seed = 0;
  ProviderFlags device;
  double fusion_temperature = pipelines::fewshot::kDefaultFusionTemperature, tune_lr = 1e-3, threshold = 0.5;
  double min_confidence = 0.7, max_volume_ratio = 0.8;
  std::string shard;
  DicomFlags dicom;
  // Which flags the user typed (they override the config file).
  std::set<std::string> given;
};

}  // namespace medport::cli
