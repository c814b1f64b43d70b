// `medport segment MODEL.onnx INPUT... -o OUTDIR`: nnU-Net sliding-window segmentation of
// single cases or whole folders (resumable: finished cases are skipped).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "command.hpp"
#include "provider_flags.hpp"
#include "dicom_flags.hpp"
#include "segment_fhir.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/batch/console.hpp"
#include "medport/pipelines/batch/shard.hpp"
#include "medport/pipelines/segment/batch_runner.hpp"
#include "medport/pipelines/segment/case_runner.hpp"
#include "medport/runtime/session.hpp"
#include "medport/util/output_paths.hpp"

namespace {

namespace fs = std::filesystem;

struct SegmentArgs {
  std::vector<std::string> models;  // the positional MODEL plus any --ensemble models
  std::string model;
  std::vector<std::string> inputs;
  std::string output_dir;
  bool preprocessed = false;
  bool save_logits = false;
  bool save_probabilities = false;
  bool no_tta = false;
  std::string spacing;
  std::string nan_to_num;
  bool no_overlay = false;
  bool contours = false;
  bool overwrite = false;
  bool fp16_gaussian = false;
  bool no_overlap = false;
  bool cuda_graph = false;
  double alpha = 0.45;
  int threads = 0;
  int workers = 1;
  int tile_batch = 1;
  medport::cli::ProviderFlags device;
  std::string shard;
  std::string fhir;
  bool dicom_seg = false;
  medport::cli::DicomFlags dicom;
};

int run(const SegmentArgs& args) {
  using namespace medport;
  if (args.cuda_graph && (args.device.provider != "cuda" || args.workers != 1))
    throw UsageError("--cuda-graph needs --provider cuda and --workers 1");
  runtime::SessionOptions session_options = cli::session_options(args.device, args.threads);
  session_options.cuda.cuda_graph = args.cuda_graph;

  std::vector<segment::LoadedModel> models;
  models.push_back(segment::load_model(args.model, session_options));
  for (const auto& extra : args.models) models.push_back(segment::load_model(extra, session_options));
  std::vector<fs::path> input_paths(args.inputs.begin(), args.inputs.end());
  segment::check_case_inputs(input_paths, args.preprocessed, models.front().info.file_ending);
  auto cases = segment::collect_cases(input_paths, args.preprocessed, models.front().info.file_ending);
  if (!args.shard.empty())
    cases = pipelines::batch::take_shard(cases, args.shard, [](const segment::CaseInput& c) { return c.name; });
  segment::check_ensemble(models);

  segment::CaseOptions options;
  options.output_dir = args.output_dir;
  options.preprocessed = args.preprocessed;
  options.save_logits = args.save_logits;
  options.save_probabilities = args.save_probabilities;
  options.overlay = !args.no_overlay;
  options.overlay_options.contours = args.contours;
  options.overlay_options.alpha = args.alpha;
  if (!args.spacing.empty()) {
    if (args.preprocessed) throw UsageError("--spacing applies to raw images, not to --preprocessed arrays");
    options.read.spacing = imaging::parse_spacing(args.spacing, 2, 3);
  }
  if (!args.nan_to_num.empty()) {
    if (args.preprocessed) throw UsageError("--nan-to-num applies to raw images, not to --preprocessed arrays");
    options.read.non_finite = imaging::parse_nan_to_num(args.nan_to_num);
  }
  options.read.dicom = cli::dicom_selection(args.dicom);
  options.dicom_seg = args.dicom_seg;
  // A 3-axis .npy for a multi-channel 2D model is (C, H, W); for one channel it stays (Z, H, W).
  options.read.npy_channels_first = models.front().info.spatial_dims == 2 && models.front().info.input_channels > 1;
  options.predictor.mirror = !args.no_tta;
  options.predictor.tile_batch = args.tile_batch;
  options.predictor.workers = args.workers;
  options.predictor.gaussian_precision =
      args.fp16_gaussian ? imaging::GaussianPrecision::Float16 : imaging::GaussianPrecision::Float32;
  check_output_folder_writable(options.output_dir);
  remove_stale_temporaries(options.output_dir);

  pipelines::batch::BatchConsole console("segment", cases.size(), ::isatty(STDERR_FILENO) != 0);
  // With overlapped I/O the tile progress (network thread) and the case reports (writer thread)
  // come from two threads; the console serializes them.
  options.predictor.progress = [&](const segment::Progress& p) { console.tile_progress(p.done, p.total); };
  segment::BatchOptions batch;
  batch.overwrite = args.overwrite;
  batch.overlap = !args.no_overlap;
  segment::BatchTotals totals;
  const double wall = console.run(options.output_dir, [&] {
    totals = segment::run_batch(models, cases, options, batch, [&](const segment::CaseReport& r) { console.case_done(r); });
  });
  std::fputs(segment::batch_summary(totals, wall, options.output_dir, console.failures()).c_str(), stderr);
  if (!args.fhir.empty()) {
    std::vector<std::string> names;
    for (const auto& c : cases) names.push_back(c.name);
    const auto n = cli::write_segmentation_fhir(args.fhir, options.output_dir, names);
    std::fprintf(stderr, "FHIR Bundle (%zu case(s)) -> %s\n", n, args.fhir.c_str());
  }
  return totals.failed == 0 ? 0 : 3;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<SegmentArgs>();
  auto* cmd = root.add_subcommand(
      "segment", "nnU-Net sliding-window segmentation of images or folders with a converted model (MODEL.medport.json beside it)");
  cmd->add_option("model", args->model, "converted model (.onnx; its sidecar MODEL.medport.json next to it)")->required();
  cmd->add_option("inputs", args->inputs, "input images (NIfTI, MetaImage, PNG/JPEG/TIFF, npy, DICOM files and cines), DICOM series folders or folders of nnU-Net cases <case>_XXXX<file_ending>; with --preprocessed, .npy files or folders of them")->required();
  cmd->add_option("-o,--output", args->output_dir, "output folder")->required();
  cmd->add_option("--ensemble", args->models, "further models (e.g. other folds) whose logits are averaged");
  cmd->add_flag("--preprocessed", args->preprocessed, "inputs are (C, *spatial) arrays already normalized and at target spacing");
  cmd->add_flag("--save-logits", args->save_logits, "write <case>_logits.npz (key 'logits', K x spatial)");
  cmd->add_flag("--save-probabilities", args->save_probabilities, "write <case>_probabilities.npz (softmax)");
  cmd->add_flag("--no-tta", args->no_tta, "no test-time mirroring");
  cmd->add_option("--spacing", args->spacing,
                  "pixel/voxel spacing in mm, array order (ROW,COL or Z,ROW,COL), for formats that carry "
                  "none (PNG, JPEG, npy) or to override the file's");
  cmd->add_option("--nan-to-num", args->nan_to_num,
                  "replace NaN/inf pixels instead of refusing the image: a number for all (0), or "
                  "nan=V,posinf=V,neginf=V with V a number, max or min (the channel's largest/smallest finite value)");
  cmd->add_flag("--no-overlay", args->no_overlay, "no overlay PNG for 2D cases");
  cmd->add_flag("--contours", args->contours, "overlay draws label outlines instead of filled regions");
  cmd->add_option("--alpha", args->alpha, "overlay fill opacity")->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--overwrite", args->overwrite, "redo cases whose summary already exists");
  cmd->add_flag("--cuda-graph", args->cuda_graph,
                "replay each network call as a CUDA graph (--provider cuda; tiles through fixed device buffers)");
  cmd->add_flag("--no-overlap", args->no_overlap,
                "run each case's read, network and write in a row (default: the next case is read and the "
                "previous one written while a case is in the network)");
  cmd->add_flag("--fp16-gaussian", args->fp16_gaussian,
                "store the Gaussian map in float16 like nnUNetPredictor (default float32, as the parity fixtures)");
  cmd->add_option("--threads", args->threads, "intra-op threads per Run (0: ONNX Runtime default)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--workers", args->workers, "Run calls in flight at once, sharing one session")->check(CLI::Range(1, 64));
  cmd->add_option("--tile-batch", args->tile_batch, "network inputs (tiles x mirror variants) per Run call")->check(CLI::Range(1, 256));
  medport::cli::add_provider_flags(*cmd, args->device);
  cmd->add_option("--shard", args->shard,
                  "process only shard I of N (I/N, 0 <= I < N): the cases whose name hashes (FNV-1a) to I mod N");
  cmd->add_flag("--dicom-seg", args->dicom_seg,
                "DICOM inputs: also write <case>_seg.dcm, a DICOM SEG with one coded segment per label (docs/DICOM.md)");
  cmd->add_option("--fhir", args->fhir,
                  "also write a FHIR R4 Bundle with each case's label volumes (mL) or areas (mm2)");
  medport::cli::add_dicom_flags(*cmd, args->dicom);
  return [args] { return run(*args); };
}

}  // namespace
MEDPORT_COMMAND(setup);
