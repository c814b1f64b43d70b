#pragma once
// nnU-Net v2 sliding-window inference over a preprocessed image (C, *spatial) float32:
// centred zero padding up to the patch size, tiles at step 0.5 (in nnU-Net's order), optional
// mirroring test-time augmentation, Gaussian-weighted accumulation, division by the summed
// weights, crop of the padding, and averaging of several models' logits (fold ensembling).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "medport/imaging/sliding_window.hpp"
#include "medport/pipelines/segment/model_info.hpp"
#include "medport/runtime/session.hpp"

namespace medport::segment {

// Each worker's fixed device buffers for one model's tiles (PredictorOptions::fixed_buffers).
class FixedTileRunners;

// A loaded model: its ONNX Runtime session (shared by the worker threads) and sidecar.
struct LoadedModel {
  std::shared_ptr<const runtime::Session> session;
  ModelInfo info;
  std::string onnx_sha256;
  // Kept with the model so that CUDA graphs captured on one case replay on the next.
  std::shared_ptr<FixedTileRunners> fixed_tiles;
};
LoadedModel load_model(const std::filesystem::path& onnx_path, const runtime::SessionOptions& options);

struct Progress {
  std::int64_t done = 0;   // network evaluations finished (tile x mirror x model)
  std::int64_t total = 0;
};
using ProgressCallback = std::function<void(const Progress&)>;

struct PredictorOptions {
  bool mirror = true;  // test-time mirroring over the model's allowed axes
  // Float32 reproduces the parity fixtures; Float16 is what nnUNetPredictor stores.
  imaging::GaussianPrecision gaussian_precision = imaging::GaussianPrecision::Float32;
  std::optional<double> tile_step_size;  // default: the sidecar's (0.5)
  int tile_batch = 1;  // network inputs per Run call (tiles x mirror variants)
  int workers = 1;     // Run calls in flight at once, sharing the session
  // Tiles go through fixed device buffers, one set per worker and model, kept across cases: with
  // a CUDA session made with CudaOptions::cuda_graph each worker's call is captured once and
  // replayed (the last, partial batch of a unit is zero-padded to tile_batch). On by itself when
  // the sessions have CUDA graphs; settable for the CPU provider (same results, for tests).
  bool fixed_buffers = false;
  ProgressCallback progress;
};

struct Timings {
  double pad_ms = 0, network_ms = 0, accumulate_ms = 0, total_ms = 0;
  std::int64_t tiles = 0, network_inputs = 0, run_calls = 0;
};

// Logits (K, *spatial) of one image; with several models, their average. `image_shape` is
// (C, *spatial) with model.info.spatial_dims spatial axes; a 2D model also accepts (C, Z, H, W)
// and predicts slice by slice, as nnU-Net does. Throws InputError for a wrong shape.
std::vector<float> predict_logits(std::span<const LoadedModel> models, std::span<const float> image,
                                  std::span<const std::int64_t> image_shape, const PredictorOptions& options,
                                  Timings* timings = nullptr);

}  // namespace medport::segment
