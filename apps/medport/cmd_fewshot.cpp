// `medport fewshot MODEL_DIR --support IMG --support-mask MASK (--query IMG | --query-dir DIR) -o OUTDIR`:
// IRIS few-shot segmentation of single queries or whole folders (resumable: finished cases are
// skipped; a bad case is reported and skipped; exit code 3 when any case failed).
// `medport fewshot MODEL_DIR [--bank BANK.npz] --bank-plot PNG` (no query, no -o): only draws
// the PCA scatter of the bank's prototypes and examples.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "command.hpp"
#include "fewshot_flags.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/batch/console.hpp"
#include "medport/pipelines/batch/shard.hpp"
#include "medport/pipelines/fewshot/bank_files.hpp"
#include "medport/pipelines/fewshot/batch.hpp"
#include "medport/pipelines/fewshot/config_file.hpp"
#include "medport/pipelines/fewshot/pipeline.hpp"

namespace {

namespace fs = std::filesystem;
namespace fsl = medport::pipelines::fewshot;
namespace batch = medport::pipelines::batch;

// No query at all: the run only draws --bank-plot (validate() refuses it without one).
bool plot_only(const medport::cli::FewshotFlags& a) { return a.queries.empty() && a.query_dir.empty(); }

fsl::FewshotSettings settings_from(const medport::cli::FewshotFlags& a) {
  fsl::FewshotSettings s;
  if (!a.config.empty()) fsl::apply_config_file(a.config, s);
  auto given = [&](const char* name) { return a.given.count(name) != 0; };
  if (given("strategy")) s.strategy = fsl::canonical_strategy(a.strategy);
  if (given("ensemble")) s.ensemble = a.ensemble;
  if (given("ensemble-weights")) s.ensemble_weights = fsl::parse_numbers(a.ensemble_weights, "--ensemble-weights", 1, 1000);
  if (given("bank")) s.bank = a.bank;
  if (given("classes") && given("class-id")) throw medport::UsageError("give --classes or --class-id, not both");
  if (given("classes")) s.classes = fsl::parse_class_list(a.classes);
  if (given("class-id")) {  // the guide's 0-based class index
    if (a.class_id < 0 || a.class_id > 254) throw medport::UsageError("--class-id takes 0..254 (label value = class id + 1)");
    s.classes = {static_cast<std::int64_t>(a.class_id) + 1};
  }
  if (given("update-bank")) s.update_bank = a.update_bank;
  if (given("retrieval")) s.retrieval = a.retrieval;
  if (given("top-k")) s.top_k = a.top_k;
  if (given("fusion-temperature")) s.fusion_temperature = a.fusion_temperature;
  if (given("bank-plot")) s.bank_plot = a.bank_plot;
  if (given("tune-steps")) s.tune_steps = a.tune_steps;
  if (given("tune-lr")) s.tune_lr = a.tune_lr;
  if (given("threshold")) s.masks.threshold = a.threshold;
  if (given("largest-component")) s.masks.largest_component = a.largest_component;
  if (given("connectivity")) s.masks.connectivity = a.connectivity;
  if (given("morphology-radius")) s.masks.morphology_radius = a.morphology_radius;
  if (given("min-object-size")) fsl::parse_min_object_size(a.min_object_size, s);
  if (given("fill-holes")) s.masks.fill_holes = a.fill_holes;
  if (given("min-confidence")) s.quality.min_confidence = a.min_confidence;
  if (given("max-volume-ratio")) s.quality.max_volume_ratio = a.max_volume_ratio;
  if (given("format")) s.output.format = a.format;
  if (given("normalize")) s.preprocessing.normalize = a.normalize;
  if (given("resize")) s.preprocessing.resize = a.resize;
  if (given("modality")) s.preprocessing.modality = a.modality;
  auto pair = [](const std::string& text, const char* flag) {
    const auto v = fsl::parse_numbers(text, flag, 2, 2);
    return std::array<double, 2>{v[0], v[1]};
  };
  if (given("clip")) s.preprocessing.clip = pair(a.clip, "--clip");
  if (given("percentiles")) s.preprocessing.percentiles = pair(a.percentiles, "--percentiles");
  if (given("target-spacing")) s.preprocessing.target_spacing = fsl::parse_numbers(a.target_spacing, "--target-spacing", 2, 3);
  if (given("montage")) s.output.montage = a.montage;
  if (given("save-confidence")) s.output.save_confidence = a.save_confidence;
  if (given("save-probabilities")) s.output.save_probabilities = a.save_probabilities;
  if (given("save-logits")) s.output.save_logits = a.save_logits;
  if (given("support-dir")) s.pool.dir = a.support_dir;
  if (given("num-support")) s.pool.num_support = a.num_support;
  if (given("select")) s.pool.select = a.select;
  if (given("seed")) s.pool.seed = a.seed;
  if (given("batch-size")) s.batch_size = a.batch_size;
  if (given("threads")) s.threads = a.threads;
  if (given("provider")) {  // the flag replaces the config's device, and cuda must then work
    s.provider = a.device.provider;
    s.provider_from_config = false;
  }
  if (given("device")) s.device = a.device.device;
  s.dicom = medport::cli::dicom_selection(a.dicom);
  fsl::apply_typed_supports({a.supports, a.support_masks, given("support-dir"), given("strategy"), !a.config.empty()}, s);
  fsl::validate(s, plot_only(a));
  return s;
}

int draw_plot_only(const fsl::FewshotSettings& settings, const fs::path& model_dir) {
  std::fputs(fsl::bank_plot_line(fsl::draw_bank_plot(settings, model_dir)).c_str(), stderr);
  return 0;
}

int run(const medport::cli::FewshotFlags& args) {
  medport::cli::session_options(args.device, 0);  // a CUDA request this machine cannot serve fails first
  fsl::FewshotRequest request;
  request.settings = settings_from(args);
  request.model_dir = args.model_dir;
  if (plot_only(args)) return draw_plot_only(request.settings, request.model_dir);
  if (args.output_dir.empty()) throw medport::UsageError("-o OUTDIR is required to segment queries");
  const std::vector<fs::path> query_files(args.queries.begin(), args.queries.end());
  auto queries = fsl::collect_queries(query_files, args.query_dir, args.output_dir);
  if (!args.shard.empty()) queries = batch::take_shard(queries, args.shard, [](const batch::BatchCase& c) { return c.name; });
  fsl::check_queries(request.settings, queries.size(), !args.query_mask.empty());
  if (!args.config.empty()) request.config_file = fs::path(args.config);

  const fsl::FewshotPipeline pipeline(std::move(request));
  for (const auto& w : pipeline.warnings()) std::fprintf(stderr, "fewshot: warning: %s\n", w.c_str());
  fsl::FewshotBatchOptions options;
  options.output_dir = args.output_dir;
  options.overwrite = args.overwrite;
  if (!args.query_mask.empty()) options.query_mask = fs::path(args.query_mask);

  batch::BatchConsole console("fewshot", queries.size(), ::isatty(STDERR_FILENO) != 0);
  fsl::FewshotBatchOutcome outcome;
  console.run(options.output_dir, [&] {
    outcome = fsl::run_batch(pipeline, queries, options, [&](const batch::CaseReport& r) { console.case_done(r, fsl::quality_note(r)); });
  });
  std::fputs(fsl::batch_summary_line(outcome, options.output_dir).c_str(), stderr);
  return outcome.totals.failed == 0 ? 0 : 3;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<medport::cli::FewshotFlags>();
  auto* cmd = root.add_subcommand("fewshot", "IRIS few-shot segmentation of queries from labelled support images (MODEL_DIR from medport convert)");
  std::vector<std::pair<std::string, CLI::Option*>> tracked;
  auto track = [&](const std::string& name, CLI::Option* o) { tracked.emplace_back(name, o); };
  cmd->add_option("model_dir", args->model_dir, "converted IRIS folder (encode_support.onnx, forward.onnx, medport.json)")->required();
  cmd->add_option("--support", args->supports, "support image (NIfTI/npy volume or 2D PNG); repeat for several");
  cmd->add_option("--support-mask", args->support_masks, "label mask of the support before it (values 1..K: one channel per class)");
  cmd->add_option("--query", args->queries, "image to segment; may be repeated");
  cmd->add_option("--query-dir", args->query_dir, "folder of images to segment (each file is a case)");
  cmd->add_option("-o,--output", args->output_dir, "output folder (required unless only --bank-plot is drawn)");
  track("strategy", cmd->add_option("--strategy", args->strategy, "one-shot | ensemble | memory | tune (default one-shot; ensemble when several supports)"));
  track("ensemble", cmd->add_option("--ensemble", args->ensemble, "ensemble aggregation: mean | weighted | confidence (best per class) | soft (confidence-weighted predictions)"));
  track("ensemble-weights", cmd->add_option("--ensemble-weights", args->ensemble_weights, "weighted ensemble: one weight per support, e.g. 0.5,0.3,0.2 (default: mask sizes)"));
  track("support-dir", cmd->add_option("--support-dir", args->support_dir, "pool of supports: <name>_image.* / <name>.* with <name>_mask.* files"));
  track("num-support", cmd->add_option("--num-support", args->num_support, "supports chosen from --support-dir (default 1 for one-shot, else 3)"));
  track("select", cmd->add_option("--select", args->select, "how --support-dir supports are chosen: random (default) | quality | diversity"));
  track("seed", cmd->add_option("--seed", args->seed, "seed of --select random (default 0)"));
  track("bank", cmd->add_option("--bank", args->bank, "memory bank: a .npz file (default MODEL_DIR/memory_bank.npz) or postgresql://...#NAME, shared between machines (docs/DICOM.md)"));
  track("classes", cmd->add_option("--classes", args->classes, "label values to segment, e.g. 1,2 (default: all in the support masks / the bank)"));
  track("class-id", cmd->add_option("--class-id", args->class_id, "the guide's 0-based class index: segments label value class-id + 1"));
  track("update-bank", cmd->add_flag("--update-bank", args->update_bank, "add the supports' embeddings (and each query's with its --query-mask) to the --bank file"));
  track("retrieval", cmd->add_option("--retrieval", args->retrieval, "memory strategy: class (prototype per class id, default) | top-k"));
  track("top-k", cmd->add_option("--top-k", args->top_k, "top-k retrieval: stored entries fused per class (default 3)"));
  track("fusion-temperature", cmd->add_option("--fusion-temperature", args->fusion_temperature, "top-k fusion weights softmax(similarity / T) (default 0.1)"));
  track("bank-plot", cmd->add_option("--bank-plot", args->bank_plot, "write a PCA scatter PNG of the bank (after the run; alone without --query)"));
  track("tune-steps", cmd->add_option("--tune-steps", args->tune_steps, "in-context tuning steps (default 20)"));
  track("tune-lr", cmd->add_option("--tune-lr", args->tune_lr, "in-context tuning Adam learning rate (default 1e-3)"));
  cmd->add_option("--query-mask", args->query_mask, "reference mask of the query: target for tuning, Dice in the case JSON");
  track("threshold", cmd->add_option("--threshold", args->threshold, "probability threshold (sigmoid(logit) > t; default 0.5)"));
  track("largest-component", cmd->add_flag("--largest-component", args->largest_component, "keep each class's largest connected component"));
  track("connectivity", cmd->add_option("--connectivity", args->connectivity, "6 or 26 (default) for --largest-component"));
  track("morphology-radius", cmd->add_option("--morphology-radius", args->morphology_radius, "opening then closing with a ball of R voxels (default 0: off)"));
  track("min-object-size", cmd->add_option("--min-object-size", args->min_object_size, "remove objects below N voxels (N or Nvox) or below a size in mm3 (e.g. 50mm3; 2D: mm2)"));
  track("fill-holes", cmd->add_flag("--fill-holes", args->fill_holes, "fill holes inside each class's mask"));
  track("min-confidence", cmd->add_option("--min-confidence", args->min_confidence, "quality check: mean max(p,1-p) >= C (default 0.7)"));
  track("max-volume-ratio", cmd->add_option("--max-volume-ratio", args->max_volume_ratio, "quality check: foreground fraction <= R (default 0.8)"));
  cmd->add_option("--config", args->config, "inference.yaml / .json (keys in docs/IRIS.md); flags override it");
  track("format", cmd->add_option("--format", args->format, "label map format: nii.gz (default) | npy | png"));
  track("normalize", cmd->add_option("--normalize", args->normalize, "intensities: modality (default, upstream IRIS) | zscore | minmax | none"));
  track("resize", cmd->add_option("--resize", args->resize, "to the model's volume: spline (default, scipy zoom order 3/0 as upstream) | linear"));
  track("modality", cmd->add_option("--modality", args->modality, "CT (default) | MRI | PET | other: the normalization of --normalize modality"));
  track("clip", cmd->add_option("--clip", args->clip, "CT window LO,HI (default -1024,1024)"));
  track("percentiles", cmd->add_option("--percentiles", args->percentiles, "MRI window P1,P2 in percent (default 1,99)"));
  track("target-spacing", cmd->add_option("--target-spacing", args->target_spacing, "resample to this spacing in mm first (Z,Y,X or Y,X)"));
  track("montage", cmd->add_flag("--montage", args->montage, "write <case>_montage.png (slices with the masks coloured)"));
  track("save-confidence", cmd->add_flag("--save-confidence", args->save_confidence, "write <case>_confidence.npy"));
  track("save-probabilities", cmd->add_flag("--save-probabilities", args->save_probabilities, "write <case>_probabilities.nii.gz / .npy (K x query grid, float32)"));
  track("save-logits", cmd->add_flag("--save-logits", args->save_logits, "write <case>_logits.npy (K x model volume, float32)"));
  track("batch-size", cmd->add_option("--batch-size", args->batch_size, "queries per network call (1..64, default 1; results identical)"));
  cmd->add_flag("--overwrite", args->overwrite, "redo cases whose <case>.json already exists");
  track("threads", cmd->add_option("--threads", args->threads, "intra-op threads (0: ONNX Runtime default)"));
  medport::cli::add_provider_flags(*cmd, args->device);
  track("provider", cmd->get_option("--provider"));  // a config's device: cuda falls back to cpu, the flag's does not
  track("device", cmd->get_option("--device"));
  cmd->add_option("--shard", args->shard,
                  "process only shard I of N (I/N, 0 <= I < N): the queries whose case name hashes (FNV-1a) to I mod N");
  medport::cli::add_dicom_flags(*cmd, args->dicom);
  return [args, tracked] {
    for (const auto& [name, option] : tracked)
      if (option->count() > 0) args->given.insert(name);
    return run(*args);
  };
}

}  // namespace
MEDPORT_COMMAND(setup);
