#pragma once
// One case of `medport segment`: read a preprocessed array, predict, write the label map, the
// optional logits/probabilities, the JSON summary and (2D) the overlay PNG - all atomically.
// The summary is written last, so its presence marks a finished case (batch runs resume).
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "medport/pipelines/segment/overlay.hpp"
#include "medport/pipelines/segment/predictor.hpp"

namespace medport::segment {

struct CaseOptions {
  std::filesystem::path output_dir;
  bool save_logits = false;
  bool save_probabilities = false;
  bool overlay = true;
  OverlayOptions overlay_options;
  PredictorOptions predictor;
};

struct CaseOutputs {
  std::string case_name;
  std::vector<std::filesystem::path> files;
  double seconds = 0.0;
};

// "dir/patient0001.npy" -> "patient0001".
std::string case_name_for(const std::filesystem::path& input);
// OUTDIR/<case>.json: written last, so it exists only for finished cases.
std::filesystem::path summary_path(const std::filesystem::path& output_dir, const std::string& case_name);
// Input files: each file argument as given, each folder's *.npy files sorted by name.
// Throws InputError for a missing path, UsageError when nothing is found or two inputs share a case name.
std::vector<std::filesystem::path> collect_case_inputs(std::span<const std::filesystem::path> inputs);

// Runs one preprocessed case: `input` is a .npy (C, *spatial) float array already normalized
// and at the model's target spacing. Throws InputError for a bad input.
CaseOutputs segment_preprocessed_case(std::span<const LoadedModel> models, const std::filesystem::path& input,
                                      const CaseOptions& options);

}  // namespace medport::segment
