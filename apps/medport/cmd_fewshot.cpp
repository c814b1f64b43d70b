// `medport fewshot MODEL_DIR --support IMG --support-mask MASK (--query IMG | --query-dir DIR) -o OUTDIR`:
// IRIS few-shot segmentation of single queries or whole folders (resumable: finished cases are
// skipped; a bad case is reported and skipped; exit code 3 when any case failed).
// `medport fewshot MODEL_DIR [--bank BANK.npz] --bank-plot PNG` (no query, no -o): only draws
// the PCA scatter of the bank's prototypes and examples.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "fewshot_case.hpp"
#include "fewshot_inputs.hpp"
#include "fewshot_settings.hpp"
#include "fewshot_strategy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/models/sidecar.hpp"
#include "medport/pipelines/fewshot/prototype_plot.hpp"
#include "medport/pipelines/segment/case_runner.hpp"
#include "medport/pipelines/segment/progress.hpp"
#include "medport/runtime/session.hpp"
#include "medport/util/file_io.hpp"

namespace {

namespace fs = std::filesystem;
namespace fsl = medport::pipelines::fewshot;
using namespace medport::cli::fewshot;
using nlohmann::json;

constexpr const char* kBatchSummary = "batch_summary.json";

struct FewshotArgs {
  std::string model_dir;
  std::vector<std::string> supports, support_masks, queries;
  std::string query_dir, output_dir, query_mask, config;
  std::string strategy, ensemble, bank, classes, format, normalize, retrieval, bank_plot;
  bool update_bank = false, largest_component = false, montage = false, save_confidence = false, overwrite = false;
  int tune_steps = 20, morphology_radius = 0, connectivity = 26, threads = 0, top_k = 3;
  double fusion_temperature = fsl::kDefaultFusionTemperature, tune_lr = 1e-3, threshold = 0.5, min_confidence = 0.7, max_volume_ratio = 0.8;
  // Which flags the user typed (they override the config file).
  std::set<std::string> given;
};

// No query at all: the run only draws --bank-plot (validate() refuses it without one).
bool plot_only(const FewshotArgs& a) { return a.queries.empty() && a.query_dir.empty(); }

FewshotSettings settings_from(const FewshotArgs& a) {
  FewshotSettings s;
  if (!a.config.empty()) apply_config_file(a.config, s);
  auto given = [&](const char* name) { return a.given.count(name) != 0; };
  if (given("strategy")) s.strategy = a.strategy;
  if (given("ensemble")) s.ensemble = a.ensemble;
  if (given("bank")) s.bank = a.bank;
  if (given("classes")) s.classes = parse_class_list(a.classes);
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
  if (given("min-confidence")) s.quality.min_confidence = a.min_confidence;
  if (given("max-volume-ratio")) s.quality.max_volume_ratio = a.max_volume_ratio;
  if (given("format")) s.format = a.format;
  if (given("normalize")) s.normalize = a.normalize;
  if (given("montage")) s.montage = a.montage;
  if (given("save-confidence")) s.save_confidence = a.save_confidence;
  if (given("threads")) s.threads = a.threads;
  if (a.supports.size() != a.support_masks.size())
    throw medport::UsageError("every --support needs its --support-mask (" + std::to_string(a.supports.size()) +
                              " images, " + std::to_string(a.support_masks.size()) + " masks)");
  if (!a.supports.empty()) {  // supports on the command line replace the config's
    s.supports.clear();
    for (std::size_t i = 0; i < a.supports.size(); ++i) s.supports.push_back({a.supports[i], a.support_masks[i]});
  }
  if (s.strategy == "one-shot" && s.supports.size() > 1 && !given("strategy") && a.config.empty())
    s.strategy = "ensemble";  // several supports without a strategy: the guide's default ensemble
  validate(s, plot_only(a));
  return s;
}

medport::Shape read_volume_shape(const fs::path& model_dir) {
  const std::string sidecar = medport::models::sidecar_path_for(model_dir).string();
  const auto section = medport::models::read_sidecar(model_dir, "iris").family_section;
  const auto shape = section.contains("volume_shape") ? section["volume_shape"] : nlohmann::ordered_json();
  if (!shape.is_array() || shape.size() != 3)
    throw medport::InputError(sidecar, "has no iris.volume_shape (D, H, W); re-run medport convert");
  medport::Shape out;
  for (const auto& v : shape) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 4096)
      throw medport::InputError(sidecar, "iris.volume_shape must hold three sizes in 1..4096");
    out.push_back(v.get<std::int64_t>());
  }
  if (medport::shape_numel(out) > (std::int64_t{1} << 27))
    throw medport::InputError(sidecar, "iris.volume_shape " + medport::shape_string(out) + " is implausibly large");
  return out;
}

std::vector<std::int64_t> choose_classes(const FewshotSettings& s, const std::vector<LabelFile>& masks,
                                         const fs::path& model_dir) {
  std::set<std::int64_t> seen;
  for (const auto& m : masks) seen.insert(m.present.begin(), m.present.end());
  std::vector<std::int64_t> classes = s.classes;
  if (classes.empty() && !masks.empty()) classes.assign(seen.begin(), seen.end());
  if (classes.empty() && masks.empty()) classes = bank_class_ids(bank_file_for(s, model_dir));
  if (classes.empty()) throw medport::InputError(masks.empty() ? bank_file_for(s, model_dir).string() : s.supports[0].mask.string(),
                                                 "no foreground label to segment (every mask is empty)");
  if (std::set<std::int64_t>(classes.begin(), classes.end()).size() != classes.size())
    throw medport::UsageError("--classes lists a class twice");
  for (auto c : classes)
    if (!masks.empty() && !seen.count(c))
      throw medport::InputError(s.supports[0].mask.string(), "class " + std::to_string(c) + " is in none of the support masks");
  return classes;
}

struct QueryCase {
  fs::path path;
  std::string name;
};

std::vector<QueryCase> collect_queries(const FewshotArgs& a) {
  std::vector<fs::path> files(a.queries.begin(), a.queries.end());
  if (!a.query_dir.empty()) {
    std::error_code ec;
    if (fs::weakly_canonical(a.query_dir, ec) == fs::weakly_canonical(a.output_dir, ec))
      throw medport::UsageError("-o must not be the --query-dir itself (the outputs would become queries on the next run)");
    if (!fs::is_directory(a.query_dir, ec)) throw medport::InputError(a.query_dir, "is not a folder");
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(a.query_dir)) {
      if (!e.is_regular_file() || e.path().filename().string().starts_with(".")) continue;
      try {
        medport::imaging::format_from_path(e.path());
        if (e.path().extension() != ".raw") found.push_back(e.path());
      } catch (const medport::InputError&) {
      }  // not an image: ignored
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) throw medport::UsageError("no images found in " + a.query_dir);
    files.insert(files.end(), found.begin(), found.end());
  }
  if (files.empty()) throw medport::UsageError("give --query IMG or --query-dir DIR");
  std::vector<QueryCase> cases;
  std::set<std::string> names;
  for (const auto& f : files) {
    const std::string name = medport::segment::case_name_for(f);
    if (name + ".json" == kBatchSummary) throw medport::UsageError(f.string() + ": the case name 'batch_summary' is reserved");
    if (!names.insert(name).second) throw medport::UsageError("two queries share the case name '" + name + "'");
    cases.push_back({f, name});
  }
  return cases;
}

SupportSet load_supports(const FewshotSettings& s, const std::vector<LabelFile>& masks,
                         const std::vector<std::int64_t>& classes, const medport::Shape& volume_shape) {
  SupportSet set;
  std::vector<float> images, channels;
  for (std::size_t i = 0; i < s.supports.size(); ++i) {
    const auto image = read_model_image(s.supports[i].image, volume_shape, s.normalize);
    check_same_grid(image.original, masks[i].original);
    const auto model_masks = mask_channels_for_model(masks[i], classes, volume_shape).to_f32();
    const auto a = image.model_input.to_f32();
    images.insert(images.end(), a.begin(), a.end());
    channels.insert(channels.end(), model_masks.begin(), model_masks.end());
    json voxels = json::object();
    const auto native = mask_channels_native(masks[i], classes);
    const std::size_t per = native.size() / classes.size();
    for (std::size_t k = 0; k < classes.size(); ++k)
      voxels[std::to_string(classes[k])] = std::count(native.begin() + static_cast<std::ptrdiff_t>(k * per),
                                                      native.begin() + static_cast<std::ptrdiff_t>((k + 1) * per), 1);
    set.description.push_back({{"image", s.supports[i].image.string()},
                               {"image_sha256", image.sha256},
                               {"mask", s.supports[i].mask.string()},
                               {"mask_sha256", masks[i].sha256},
                               {"foreground_voxels", voxels}});
  }
  const auto n = static_cast<std::int64_t>(s.supports.size());
  const auto k = static_cast<std::int64_t>(classes.size());
  set.images = medport::Tensor::from_f32({n, 1, volume_shape[0], volume_shape[1], volume_shape[2]}, images);
  set.masks = medport::Tensor::from_f32({n, k, volume_shape[0], volume_shape[1], volume_shape[2]}, channels);
  return set;
}

// Draws the bank's PCA scatter; returns the facts for the batch summary.
json draw_bank_plot(const FewshotSettings& settings, const fs::path& model_dir) {
  const fs::path bank = bank_file_for(settings, model_dir);
  const auto plot = fsl::write_prototype_plot(settings.bank_plot, read_bank_contents(bank, 0.999));
  std::size_t examples = 0;
  for (const auto& p : plot.points) examples += p.is_prototype ? 0 : 1;
  return {{"file", settings.bank_plot},
          {"bank", bank.string()},
          {"prototypes", plot.points.size() - examples},
          {"examples", examples},
          {"explained_variance", plot.projection.explained_variance}};
}

int run(const FewshotArgs& args) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const FewshotSettings settings = settings_from(args);
  const fs::path model_dir = args.model_dir;
  if (plot_only(args)) {
    const json plot = draw_bank_plot(settings, model_dir);
    std::fprintf(stderr, "fewshot: PCA plot of %s (%d prototypes, %d examples) -> %s\n", plot["bank"].get<std::string>().c_str(),
                 plot["prototypes"].get<int>(), plot["examples"].get<int>(), settings.bank_plot.c_str());
    return 0;
  }
  if (args.output_dir.empty()) throw medport::UsageError("-o OUTDIR is required to segment queries");
  const medport::Shape volume_shape = read_volume_shape(model_dir);
  const auto queries = collect_queries(args);
  if (!args.query_mask.empty() && queries.size() != 1)
    throw medport::UsageError("--query-mask goes with a single --query");

  std::vector<LabelFile> masks;
  for (const auto& s : settings.supports) masks.push_back(read_label_file(s.mask));
  const auto classes = choose_classes(settings, masks, model_dir);
  std::optional<SupportSet> supports;
  if (!settings.supports.empty()) supports = load_supports(settings, masks, classes, volume_shape);

  const auto session_options = medport::runtime::session_options_from_flags(settings.threads, "cpu");
  const fsl::IrisModel model(model_dir, session_options);
  const StrategyRunner runner(model, settings, model_dir, classes, supports);

  RunContext ctx;
  ctx.settings = &settings;
  ctx.runner = &runner;
  ctx.volume_shape = volume_shape;
  ctx.classes = classes;
  for (auto c : classes) {
    const auto it = settings.class_names.find(c);
    ctx.class_names.push_back(it != settings.class_names.end() ? it->second : "label_" + std::to_string(c));
  }
  ctx.model_dir = model_dir;
  ctx.output_dir = args.output_dir;
  if (!args.query_mask.empty()) ctx.query_mask = fs::path(args.query_mask);
  if (!args.config.empty()) ctx.config_file = fs::path(args.config);
  if (supports) ctx.supports = supports->description;
  fs::create_directories(ctx.output_dir);

  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  medport::segment::BatchProgress progress(queries.size(), terminal);
  std::size_t ok = 0, skipped = 0, failed = 0, quality_failed = 0;
  json case_list = json::array();
  for (const auto& q : queries) {
    json entry{{"case", q.name}, {"query", q.path.string()}};
    const fs::path done = case_json_path(ctx.output_dir, q.name);
    if (!args.overwrite && fs::exists(done)) {
      ++skipped;
      entry["status"] = "skipped";
      std::ifstream in(done);
      const auto previous = json::parse(in, nullptr, false);
      if (!previous.is_discarded() && previous.contains("quality")) entry["quality_passed"] = previous["quality"].value("passed", true);
      progress.case_done(q.name, "already done, skipped");
    } else {
      try {
        const auto outcome = run_case(ctx, q.path, q.name);
        ++ok;
        if (!outcome.quality_passed) ++quality_failed;
        entry["status"] = "ok";
        entry["seconds"] = outcome.seconds;
        entry["quality_passed"] = outcome.quality_passed;
        char note[96];
        std::snprintf(note, sizeof note, "done in %.2f s%s", outcome.seconds, outcome.quality_passed ? "" : " (quality check failed)");
        progress.case_done(q.name, note);
      } catch (const std::exception& e) {
        // Bad inputs (and a label map a format cannot hold) fail this case only.
        if (!dynamic_cast<const medport::InputError*>(&e) && !dynamic_cast<const medport::UsageError*>(&e)) throw;
        ++failed;
        entry["status"] = "failed";
        entry["error"] = e.what();
        progress.case_done(q.name, std::string("FAILED: ") + e.what());
      }
    }
    case_list.push_back(entry);
  }
  progress.finish();
  const json bank_plot = settings.bank_plot.empty() ? json(nullptr) : draw_bank_plot(settings, model_dir);
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  json summary{{"strategy", settings.strategy},
               {"model", model_dir.string()},
               {"config_file", args.config.empty() ? json(nullptr) : json(args.config)},
               {"classes", classes},
               {"counts", {{"ok", ok}, {"skipped", skipped}, {"failed", failed}, {"quality_failed", quality_failed}}},
               {"preparation", runner.preparation()},
               {"bank_plot", bank_plot},
               {"wall_seconds", wall},
               {"cases", case_list}};
  medport::write_file_atomic(ctx.output_dir / kBatchSummary, summary.dump(2) + "\n");
  std::fprintf(stderr, "fewshot: %zu case(s) done, %zu skipped as already done, %zu failed, %zu failed a quality check in %s -> %s\n",
               ok, skipped, failed, quality_failed, medport::segment::format_duration(wall).c_str(),
               ctx.output_dir.c_str());
  return failed == 0 ? 0 : 3;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<FewshotArgs>();
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
  track("ensemble", cmd->add_option("--ensemble", args->ensemble, "ensemble aggregation: mean | weighted | confidence"));
  track("bank", cmd->add_option("--bank", args->bank, "memory bank .npz (default MODEL_DIR/memory_bank.npz)"));
  track("classes", cmd->add_option("--classes", args->classes, "label values to segment, e.g. 1,2 (default: all in the support masks / the bank)"));
  track("update-bank", cmd->add_flag("--update-bank", args->update_bank, "add the supports' embeddings to the --bank file"));
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
  track("min-confidence", cmd->add_option("--min-confidence", args->min_confidence, "quality check: mean max(p,1-p) >= C (default 0.7)"));
  track("max-volume-ratio", cmd->add_option("--max-volume-ratio", args->max_volume_ratio, "quality check: foreground fraction <= R (default 0.8)"));
  cmd->add_option("--config", args->config, "inference.yaml / .json (keys in docs/IRIS.md); flags override it");
  track("format", cmd->add_option("--format", args->format, "label map format: nii.gz (default) | npy | png"));
  track("normalize", cmd->add_option("--normalize", args->normalize, "image intensities: zscore (default) | minmax | none"));
  track("montage", cmd->add_flag("--montage", args->montage, "write <case>_montage.png (slices with the masks coloured)"));
  track("save-confidence", cmd->add_flag("--save-confidence", args->save_confidence, "write <case>_confidence.npy"));
  cmd->add_flag("--overwrite", args->overwrite, "redo cases whose <case>.json already exists");
  track("threads", cmd->add_option("--threads", args->threads, "intra-op threads (0: ONNX Runtime default)"));
  return [args, tracked] {
    for (const auto& [name, option] : tracked)
      if (option->count() > 0) args->given.insert(name);
    return run(*args);
  };
}

}  // namespace
MEDPORT_COMMAND(setup);
