#pragma once
// The few-shot pipeline as a library call, the same path `medport fewshot` takes:
//
//   FewshotRequest request;
//   request.model_dir = "iris_model";                 // written by `medport convert`
//   request.settings.supports = {{"s.nii.gz", "s_mask.nii.gz"}};
//   FewshotPipeline pipeline(request);                // model loaded, supports read and encoded
//   FewshotResult r = pipeline.run({"case1", "q.nii.gz"});  // computed in memory, nothing written
//   r.labels; r.probabilities; r.stats; r.quality; r.report;  // the case JSON (no outputs yet)
//   write_case(r, "out", request.settings.output);    // case_writer.hpp: files, the JSON last
//
// Preparation (constructor), once per request: the settings are validated; the model folder's
// volume shape read; the support masks and images read (InputError naming a bad one); the classes
// chosen (settings.classes, else every label of the support masks, else the bank's classes);
// every support encoded on its own; the bank updated (settings.update_bank); the strategy's
// query-independent embeddings made (strategy_runner.hpp). run() then reads one query, predicts
// it, maps the probabilities back to the query's own grid and post-processes them (outputs.hpp).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/imaging/image.hpp"
#include "medport/imaging/label_image.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"
#include "medport/pipelines/fewshot/settings.hpp"
#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

class IrisModel;

struct FewshotRequest {
  std::filesystem::path model_dir;                   // encode_support.onnx, forward.onnx, medport.json
  FewshotSettings settings;                          // supports included
  std::optional<std::filesystem::path> config_file;  // only reported in the case JSON
};

struct FewshotQuery {
  std::string case_name;
  std::filesystem::path image;
  std::optional<std::filesystem::path> mask;  // the query's reference mask: tuning target, Dice
};

struct FewshotResult {
  std::string case_name;
  imaging::Image query;                    // as read: geometry, spacing, intensities
  Grid grid;                               // the query's own grid (depth 1 for 2D)
  std::vector<std::int64_t> classes;       // label values, in channel order
  std::vector<std::string> class_names;    // one per class
  Tensor logits;                           // (1,K,D,H,W) at the model's volume shape
  std::vector<float> probabilities;        // (K, grid voxels) in the query's grid
  std::vector<std::uint8_t> masks;         // (K, grid voxels) 0/1 after post-processing
  imaging::LabelImage labels;              // merged label map in the query's grid and spacing
  std::vector<ClassStats> stats;           // per class
  double mean_confidence = 0.0;
  double foreground_fraction = 0.0;
  QualityReport quality;
  std::string strategy;
  nlohmann::json report;                   // the case JSON without `outputs` and the write timings
  double seconds = 0.0;                    // read + predict + post-process
};

// One query of run_many: its result, or the error of its own bad input.
struct QueryOutcome {
  std::optional<FewshotResult> result;
  std::exception_ptr error;
};

class FewshotPipeline {
 public:
  explicit FewshotPipeline(FewshotRequest request);
  // The same with a model already loaded from request.model_dir (a server shares one IrisModel
  // between requests; its sessions are thread-safe).
  FewshotPipeline(FewshotRequest request, std::shared_ptr<const IrisModel> model);
  ~FewshotPipeline();
  FewshotPipeline(const FewshotPipeline&) = delete;
  FewshotPipeline& operator=(const FewshotPipeline&) = delete;

  // One query, computed without writing anything. InputError for a bad query or mask,
  // EngineError when ONNX Runtime fails.
  FewshotResult run(const FewshotQuery& query) const;
  // Several queries, their network calls batched (strategies whose task embeddings do not depend
  // on the query run one forward pass for all; the others query by query): results equal run()
  // on each. A query that cannot be read fails alone; an EngineError stops all.
  std::vector<QueryOutcome> run_many(std::span<const FewshotQuery> queries) const;

  const FewshotRequest& request() const;
  const FewshotSettings& settings() const;
  const Shape& volume_shape() const;                      // (D,H,W) of the model
  const std::vector<std::int64_t>& classes() const;
  const nlohmann::json& preparation() const;              // support encoding time, bank facts
  // What the user should know: where the config's `model:` block differs from the model run.
  const std::vector<std::string>& warnings() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The `iris` block of MODEL_DIR/medport.json (the sidecar) (hyperparameters, volume shape); InputError
// naming the sidecar when it is unreadable.
nlohmann::json read_iris_facts(const std::filesystem::path& model_dir);
// The model's (D,H,W) from it; InputError naming the sidecar otherwise.
Shape read_volume_shape(const std::filesystem::path& model_dir);

}  // namespace medport::pipelines::fewshot
