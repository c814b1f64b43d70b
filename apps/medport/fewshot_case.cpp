#include "fewshot_case.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "fewshot_inputs.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"
#include "medport/util/file_io.hpp"
#include "medport/version.hpp"

namespace medport::cli::fewshot {
namespace {

namespace fs = std::filesystem;
namespace fsl = pipelines::fewshot;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string size_note(const fsl::ClassStats& s, bool is_3d) {
  char buf[48];
  if (is_3d) std::snprintf(buf, sizeof buf, "%.2f mL", s.volume_ml);
  else std::snprintf(buf, sizeof buf, "%.1f mm2", s.volume_ml * 1000.0);
  return buf;
}

json describe_image(const fs::path& path, const imaging::Image& image, const std::string& sha256) {
  return {{"path", path.string()}, {"sha256", sha256}, {"shape", image.spatial_shape()}, {"spacing", image.spacing},
          {"format", imaging::format_name(image.geometry.format)}};
}

// Writes the files of one case; on failure removes what it already wrote.
class CaseWriter {
 public:
  explicit CaseWriter(fs::path dir) : dir_(std::move(dir)) {}
  ~CaseWriter() {
    if (committed_) return;
    std::error_code ec;
    for (const auto& f : written_) fs::remove_all(f, ec);
  }
  CaseWriter(const CaseWriter&) = delete;
  CaseWriter& operator=(const CaseWriter&) = delete;
  void add(const std::vector<fs::path>& files) { written_.insert(written_.end(), files.begin(), files.end()); }
  void commit() { committed_ = true; }
  const std::vector<fs::path>& files() const { return written_; }
  std::string relative(const fs::path& p) const { return p.lexically_relative(dir_).string(); }

 private:
  fs::path dir_;
  std::vector<fs::path> written_;
  bool committed_ = false;
};

}  // namespace

fs::path case_json_path(const fs::path& output_dir, const std::string& case_name) {
  return output_dir / (case_name + ".json");
}

CaseOutcome run_case(const RunContext& ctx, const fs::path& query_path, const std::string& case_name) {
  const FewshotSettings& settings = *ctx.settings;
  const auto start = Clock::now();
  const auto classes = static_cast<std::int64_t>(ctx.classes.size());

  const ModelImage query = read_model_image(query_path, ctx.volume_shape, settings.normalize);
  std::optional<LabelFile> query_mask;
  std::optional<Tensor> query_mask_model;
  if (ctx.query_mask) {
    query_mask = read_label_file(*ctx.query_mask);
    check_same_grid(query.original, query_mask->original);
    query_mask_model = mask_channels_for_model(*query_mask, ctx.classes, ctx.volume_shape);
  }
  const double read_s = seconds_since(start);

  const Prediction prediction = ctx.runner->predict(query.model_input, query_mask_model);
  const Shape expected{1, classes, ctx.volume_shape[0], ctx.volume_shape[1], ctx.volume_shape[2]};
  if (prediction.logits.shape() != expected)
    throw InputError(ctx.model_dir.string(), "the model returned logits " + shape_string(prediction.logits.shape()) +
                                                 ", expected " + shape_string(expected));

  const auto post_start = Clock::now();
  const auto probabilities =
      probabilities_to_query(fsl::sigmoid(prediction.logits.to_f32()), classes, ctx.volume_shape, query.original);
  const fsl::Grid grid = grid_of(query.original);
  const auto masks = fsl::make_class_masks(probabilities, classes, grid, settings.masks);
  const auto labels = fsl::merge_labels(masks, probabilities, classes, ctx.classes);
  const auto stats = fsl::class_statistics(masks, probabilities, classes, grid, query.original.spacing);
  const double mean_confidence = fsl::mean_binary_confidence(probabilities);
  const auto foreground = std::count_if(labels.begin(), labels.end(), [](std::uint8_t v) { return v != 0; });
  const double foreground_fraction = static_cast<double>(foreground) / static_cast<double>(labels.size());
  const auto quality = fsl::check_quality(mean_confidence, foreground_fraction, settings.quality);
  std::vector<std::uint8_t> reference_masks;
  if (query_mask) reference_masks = mask_channels_native(*query_mask, ctx.classes);
  const double post_s = seconds_since(post_start);

  const auto write_start = Clock::now();
  CaseWriter writer(ctx.output_dir);
  imaging::LabelImage label_image;
  label_image.shape = query.original.spatial_shape();
  label_image.spacing = query.original.spacing;
  label_image.labels = labels;
  json outputs;
  const auto label_files = fsl::write_labels(ctx.output_dir / (case_name + "_labels"), label_image, query.original,
                                             fsl::parse_label_format(settings.format));
  writer.add(label_files);
  outputs["labels"] = writer.relative(label_files.front());
  const bool is_3d = query.original.spatial_dims() == 3;
  if (settings.montage) {
    std::vector<std::string> notes;
    for (const auto& s : stats) notes.push_back(size_note(s, is_3d));
    fsl::MontageOptions montage;
    montage.slices = settings.montage_slices;
    montage.title = case_name + "  -  " + settings.strategy;
    if (!is_3d) montage.tile_size = 512;  // one image: show it large
    const auto& sp = query.original.spacing;
    if (sp.size() >= 2) montage.pixel_aspect = std::clamp(sp[sp.size() - 2] / sp.back(), 0.1, 10.0);
    const auto png = fsl::render_montage_png(query.original.data, labels, grid, ctx.class_names, notes, ctx.classes, montage);
    const fs::path path = ctx.output_dir / (case_name + "_montage.png");
    write_file_atomic(path, png);
    writer.add({path});
    outputs["montage"] = writer.relative(path);
  }
  if (settings.save_confidence) {
    const auto confidence = fsl::confidence_map(probabilities, labels, classes, ctx.classes);
    const fs::path path = ctx.output_dir / (case_name + "_confidence.npy");
    ckpt::write_npy_file(path, Tensor::from_f32(query.original.spatial_shape(), confidence));
    writer.add({path});
    outputs["confidence"] = writer.relative(path);
  }

  json class_list = json::array();
  const std::size_t per = grid.voxels();
  for (std::size_t k = 0; k < ctx.classes.size(); ++k) {
    json c{{"id", ctx.classes[k]},
           {"name", ctx.class_names[k]},
           {"voxels", stats[k].voxels},
           {"fraction", stats[k].fraction},
           {"mean_confidence", stats[k].mean_confidence}};
    if (is_3d) c["volume_ml"] = stats[k].volume_ml;
    else c["area_mm2"] = stats[k].volume_ml * 1000.0;
    if (query_mask) {
      const auto d = fsl::dice(std::span(masks).subspan(k * per, per), std::span(reference_masks).subspan(k * per, per));
      c["dice"] = d ? json(*d) : json(nullptr);
    }
    class_list.push_back(c);
  }
  json checks = json::array();
  for (const auto& c : quality.checks)
    checks.push_back({{"name", c.name}, {"value", c.value}, {"threshold", c.threshold}, {"passed", c.passed}, {"reason", c.reason}});
  json inputs{{"query", describe_image(query_path, query.original, query.sha256)}, {"supports", ctx.supports}};
  if (query_mask) inputs["query_mask"] = describe_image(*ctx.query_mask, query_mask->original, query_mask->sha256);

  json report{
      {"case", case_name},
      {"medport_version", std::string(kVersion)},
      {"strategy", settings.strategy},
      {"strategy_details", prediction.details},
      {"model", {{"folder", ctx.model_dir.string()}, {"volume_shape", ctx.volume_shape}}},
      {"config_file", ctx.config_file ? json(ctx.config_file->string()) : json(nullptr)},
      {"inputs", inputs},
      {"preprocessing", {{"normalize", settings.normalize}}},
      {"threshold", settings.masks.threshold},
      {"postprocessing",
       {{"largest_component", settings.masks.largest_component},
        {"connectivity", settings.masks.connectivity},
        {"morphology_radius", settings.masks.morphology_radius}}},
      {"classes", class_list},
      {"mean_confidence", mean_confidence},
      {"foreground_fraction", foreground_fraction},
      {"quality", {{"passed", quality.passed}, {"checks", checks}}},
      {"outputs", outputs},
  };
  const double write_s = seconds_since(write_start);
  report["timings"] = {{"read_s", read_s},
                       {"encode_s", ctx.runner->preparation().value("encode_seconds", 0.0)},
                       {"encode_is_shared", true},  // supports are encoded once per run
                       {"predict_s", prediction.predict_seconds},
                       {"postprocess_s", post_s},
                       {"write_s", write_s},
                       {"total_s", seconds_since(start)}};
  const fs::path json_path = case_json_path(ctx.output_dir, case_name);
  write_file_atomic(json_path, report.dump(2) + "\n");
  writer.add({json_path});
  writer.commit();
  return {writer.files(), quality.passed, seconds_since(start)};
}

}  // namespace medport::cli::fewshot
