#pragma once
// One case of `medport segment`: computed into a SegmentResult (label map, optional logits and
// probabilities, the JSON summary, the 2D overlay PNG - all in memory, no file written), then
// written by write_case_outputs: every file of the case together or none (batch/case_outputs.hpp),
// the summary OUTDIR/<case>.json last, so its presence marks a finished case (batches resume).
//
// Two kinds of input:
//  - preprocessed: a .npy (C, *spatial) already normalized and at the model's target spacing;
//    only the sliding window, mirroring and argmax run (label map <case>_seg.npy);
//  - raw images (NIfTI, MetaImage, PNG/JPEG/TIFF, npy): nnU-Net preprocessing (crop, normalize,
//    resample), sliding window, export back to the input geometry (<case>_seg<ending>).
// Region-based models (sigmoid outputs) paint their label map in regions_class_order.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/dicom/seg_writer.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/pipelines/batch/cases.hpp"
#include "medport/pipelines/segment/overlay.hpp"
#include "medport/pipelines/segment/predictor.hpp"

namespace medport::segment {

struct CaseOptions {
  std::filesystem::path output_dir;  // segment_case / the batch runner write here
  bool preprocessed = false;
  bool save_logits = false;
  bool save_probabilities = false;
  bool overlay = true;
  OverlayOptions overlay_options;
  PredictorOptions predictor;
  imaging::ReadOptions read;  // raw inputs only: e.g. the spacing of formats that carry none
  bool dicom_seg = false;     // DICOM inputs: also write <case>_seg.dcm (DICOM SEG, dicom/seg_writer.hpp)
};

// One case: its name and its channel files (one file unless nnU-Net's CASE_XXXX convention).
using CaseInput = pipelines::batch::BatchCase;

// Everything one case produces, in memory.
struct SegmentResult {
  std::string case_name;
  imaging::LabelImage labels;  // in the input's geometry and spacing
  // Raw inputs: the input image's geometry (shape, spacing, format, file header; no pixel data),
  // so that the label map is written in the input's own format. Preprocessed inputs: none (.npy).
  std::optional<imaging::Image> reference;
  std::string label_ending;             // ".npy", the input's own file ending, or ".nii.gz" for DICOM
  std::vector<dicom::SegmentInfo> dicom_segments;  // with CaseOptions::dicom_seg: one per label of the SEG
  std::optional<Tensor> probabilities;  // (K, *spatial) with CaseOptions::save_probabilities
  std::optional<Tensor> logits;         // (K, *network spatial) with CaseOptions::save_logits
  std::vector<std::byte> overlay_png;   // 2D cases with CaseOptions::overlay
  nlohmann::json summary;               // the case JSON without `outputs` and the write timings
  double busy_ms = 0;                   // the case's own work so far (its stages summed)
};

struct CaseOutputs {
  std::string case_name;
  std::vector<std::filesystem::path> files;  // the summary last
  double seconds = 0.0;
};

// Writes a result into `output_dir`: <case>_seg<ending>, <case>_probabilities.npz,
// <case>_logits.npz, <case>_overlay.png, <case>_seg.dcm (those the result holds), then <case>.json with
// `outputs` and the write timings added. All or nothing; InputError naming the path when the
// folder cannot be written.
CaseOutputs write_case_outputs(const SegmentResult& result, const std::filesystem::path& output_dir);

// Cases from file and folder arguments. Preprocessed: each file is a case, folders give their
// *.npy files sorted by name. Raw: each file is a single-channel case; folders are grouped by
// nnU-Net's `<case>_<XXXX><file_ending>` convention (file_ending from the sidecar).
// Throws InputError for a missing path, UsageError when nothing is found or two cases share a name.
std::vector<CaseInput> collect_cases(std::span<const std::filesystem::path> inputs, bool preprocessed,
                                     const std::string& file_ending = ".nii.gz");
// Before collect_cases: an input the system cannot open (a symlink loop, a name too long, no
// permission) and a folder without a single case (nor a DICOM series) are InputErrors naming it -
// even a folder beside others that hold cases. Missing paths are left to collect_cases.
void check_case_inputs(std::span<const std::filesystem::path> inputs, bool preprocessed, const std::string& file_ending);
// The models of one run (the first and its --ensemble folds) must share labels and regions;
// InputError naming the sidecar of the first that does not.
void check_ensemble(std::span<const LoadedModel> models);

// One case computed (prepare_case, predict_case, finish_case in a row); nothing is written.
// Throws InputError for a bad input, EngineError when ONNX Runtime fails.
SegmentResult compute_case(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options);
// compute_case, then write_case_outputs into options.output_dir.
CaseOutputs segment_case(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options);

// The stages of one case, so that a batch can overlap them across cases (batch_runner.hpp):
// prepare = read + preprocess, predict = the network (sliding window), finish = export back to the
// input geometry, label map, summary and overlay (no writing). Each throws InputError for a bad
// input; a job is moved from stage to stage and may go to another thread in between.
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
SegmentResult finish_case(std::span<const LoadedModel> models, CaseJob job, const CaseOptions& options);

}  // namespace medport::segment
