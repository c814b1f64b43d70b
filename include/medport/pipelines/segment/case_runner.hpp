#pragma once
// One case of `medport segment`, written atomically to the output folder: the label map, the
// optional logits/probabilities, the JSON summary and (2D) the overlay PNG. The summary is
// written last, so its presence marks a finished case (batch runs resume).
//
// Two kinds of input:
//  - preprocessed: a .npy (C, *spatial) already normalized and at the model's target spacing;
//    only the sliding window, mirroring and argmax run (label map <case>_seg.npy);
//  - raw images (NIfTI, MetaImage, PNG/JPEG/TIFF, npy): nnU-Net preprocessing (crop, normalize,
//    resample), sliding window, export back to the input geometry (<case>_seg<ending>).
// Region-based models (sigmoid outputs) paint their label map in regions_class_order.
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "medport/imaging/image_io.hpp"
#include "medport/pipelines/segment/overlay.hpp"
#include "medport/pipelines/segment/predictor.hpp"

namespace medport::segment {

struct CaseOptions {
  std::filesystem::path output_dir;
  bool preprocessed = false;
  bool save_logits = false;
  bool save_probabilities = false;
  bool overlay = true;
  OverlayOptions overlay_options;
  PredictorOptions predictor;
  imaging::ReadOptions read;  // raw inputs only: e.g. the spacing of formats that carry none
};

// One case: its name and its channel files (one file unless nnU-Net's CASE_XXXX convention).
struct CaseInput {
  std::string name;
  std::vector<std::filesystem::path> files;
};

struct CaseOutputs {
  std::string case_name;
  std::vector<std::filesystem::path> files;
  double seconds = 0.0;
};

// "dir/patient0001.npy" -> "patient0001"; "dir/la_003_0000.nii.gz" -> "la_003_0000".
std::string case_name_for(const std::filesystem::path& input);
// OUTDIR/<case>.json: written last, so it exists only for finished cases.
std::filesystem::path summary_path(const std::filesystem::path& output_dir, const std::string& case_name);

// Cases from file and folder arguments. Preprocessed: each file is a case, folders give their
// *.npy files sorted by name. Raw: each file is a single-channel case; folders are grouped by
// nnU-Net's `<case>_<XXXX><file_ending>` convention (file_ending from the sidecar).
// Throws InputError for a missing path, UsageError when nothing is found or two cases share a name.
std::vector<CaseInput> collect_cases(std::span<const std::filesystem::path> inputs, bool preprocessed,
                                     const std::string& file_ending = ".nii.gz");

// Runs one case (prepare_case, predict_case, finish_case in a row). Throws InputError for a bad input.
CaseOutputs segment_case(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options);

// The stages of one case, so that a batch can overlap them across cases (batch_runner.hpp):
// prepare = read + preprocess, predict = the network (sliding window), finish = export back to the
// input geometry, label map and writing. Each throws InputError for a bad input; a job is moved
// from stage to stage and may go to another thread in between.
class CaseJob {
 public:
  struct State;  // case_runner.cpp
  CaseJob();
  CaseJob(CaseJob&&) noexcept;
  CaseJob& operator=(CaseJob&&) noexcept;
  ~CaseJob();
  std::unique_ptr<State> state;
};
CaseJob prepare_case(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options);
void predict_case(std::span<const LoadedModel> models, CaseJob& job, const CaseOptions& options);
CaseOutputs finish_case(std::span<const LoadedModel> models, CaseJob job, const CaseOptions& options);

}  // namespace medport::segment
