#include "medport/pipelines/fewshot/pipeline.hpp"

#include <algorithm>
#include <set>

#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/pipelines/fewshot/bank_files.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/pipelines/fewshot/model_inputs.hpp"
#include "medport/pipelines/fewshot/strategy_runner.hpp"
#include "medport/runtime/session.hpp"
#include "medport/util/file_io.hpp"
#include "medport/version.hpp"
#include "medport/util/stopwatch.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::int64_t> choose_classes(const FewshotSettings& s, const std::vector<LabelFile>& masks,
                                         const fs::path& model_dir) {
  std::set<std::int64_t> seen;
  for (const auto& m : masks) seen.insert(m.present.begin(), m.present.end());
  std::vector<std::int64_t> classes = s.classes;
  if (classes.empty() && !masks.empty()) classes.assign(seen.begin(), seen.end());
  if (classes.empty() && masks.empty()) classes = bank_class_ids(bank_file_for(s, model_dir));
  if (classes.empty()) throw InputError(masks.empty() ? bank_file_for(s, model_dir).string() : s.supports[0].mask.string(),
                                        "no foreground label to segment (every mask is empty)");
  if (std::set<std::int64_t>(classes.begin(), classes.end()).size() != classes.size())
    throw UsageError("--classes lists a class twice");
  for (auto c : classes)
    if (!masks.empty() && !seen.count(c))
      throw InputError(s.supports[0].mask.string(), "class " + std::to_string(c) + " is in none of the support masks");
  return classes;
}

SupportSet load_supports(const FewshotSettings& s, const std::vector<LabelFile>& masks,
                         const std::vector<std::int64_t>& classes, const Shape& volume_shape) {
  SupportSet set;
  std::vector<float> images, channels;
  for (std::size_t i = 0; i < s.supports.size(); ++i) {
    const auto image = read_model_image(s.supports[i].image, volume_shape, s.normalize, s.dicom);
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
  set.images = Tensor::from_f32({n, 1, volume_shape[0], volume_shape[1], volume_shape[2]}, images);
  set.masks = Tensor::from_f32({n, k, volume_shape[0], volume_shape[1], volume_shape[2]}, channels);
  return set;
}

json describe_image(const fs::path& path, const imaging::Image& image, const std::string& sha256) {
  return {{"path", path.string()}, {"sha256", sha256}, {"shape", image.spatial_shape()}, {"spacing", image.spacing},
          {"format", imaging::format_name(image.geometry.format)}};
}

}  // namespace

Shape read_volume_shape(const fs::path& model_dir) {
  const fs::path sidecar = models::sidecar_path_for(model_dir);
  const auto section = models::read_sidecar(model_dir, "iris").family_section;
  const json shape = section.contains("volume_shape") ? json::parse(section["volume_shape"].dump()) : json();
  if (!shape.is_array() || shape.size() != 3)
    throw InputError(sidecar.string(), "has no iris.volume_shape (D, H, W); re-run medport convert");
  Shape out;
  for (const auto& v : shape) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 4096)
      throw InputError(sidecar.string(), "iris.volume_shape must hold three sizes in 1..4096");
    out.push_back(v.get<std::int64_t>());
  }
  if (shape_numel(out) > (std::int64_t{1} << 27))
    throw InputError(sidecar.string(), "iris.volume_shape " + shape_string(out) + " is implausibly large");
  return out;
}

struct FewshotPipeline::Impl {
  FewshotRequest request;
  Shape volume_shape;
  std::vector<std::int64_t> classes;
  std::vector<std::string> class_names;
  json supports = json::array();
  std::shared_ptr<const IrisModel> model;
  std::unique_ptr<StrategyRunner> runner;
};

FewshotPipeline::FewshotPipeline(FewshotRequest request) : FewshotPipeline(std::move(request), nullptr) {}

FewshotPipeline::FewshotPipeline(FewshotRequest request, std::shared_ptr<const IrisModel> model)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.request = std::move(request);
  const FewshotSettings& s = m.request.settings;
  const fs::path& model_dir = m.request.model_dir;
  validate(s);
  m.volume_shape = read_volume_shape(model_dir);
  std::vector<LabelFile> masks;
  for (const auto& support : s.supports) masks.push_back(read_label_file(support.mask, s.dicom));
  m.classes = choose_classes(s, masks, model_dir);
  for (auto c : m.classes) {
    const auto it = s.class_names.find(c);
    m.class_names.push_back(it != s.class_names.end() ? it->second : "label_" + std::to_string(c));
  }
  std::optional<SupportSet> supports;
  if (!s.supports.empty()) {
    supports = load_supports(s, masks, m.classes, m.volume_shape);
    m.supports = supports->description;
  }
  m.model = model ? std::move(model)
                  : std::make_shared<const IrisModel>(
                        model_dir, runtime::session_options_from_flags(s.threads, s.provider, s.device));
  m.runner = std::make_unique<StrategyRunner>(*m.model, s, model_dir, m.classes, std::move(supports));
}

FewshotPipeline::~FewshotPipeline() = default;

const FewshotRequest& FewshotPipeline::request() const { return impl_->request; }
const FewshotSettings& FewshotPipeline::settings() const { return impl_->request.settings; }
const Shape& FewshotPipeline::volume_shape() const { return impl_->volume_shape; }
const std::vector<std::int64_t>& FewshotPipeline::classes() const { return impl_->classes; }
const json& FewshotPipeline::preparation() const { return impl_->runner->preparation(); }

FewshotResult FewshotPipeline::run(const FewshotQuery& q) const {
  const Impl& m = *impl_;
  const FewshotSettings& settings = m.request.settings;
  const Stopwatch start;
  const auto classes = static_cast<std::int64_t>(m.classes.size());

  ModelImage query = read_model_image(q.image, m.volume_shape, settings.normalize, settings.dicom);
  std::optional<LabelFile> query_mask;
  std::optional<Tensor> query_mask_model;
  if (q.mask) {
    query_mask = read_label_file(*q.mask, settings.dicom);
    check_same_grid(query.original, query_mask->original);
    query_mask_model = mask_channels_for_model(*query_mask, m.classes, m.volume_shape);
  }
  const double read_s = start.seconds();

  Prediction prediction = m.runner->predict(query.model_input, query_mask_model);
  const Shape expected{1, classes, m.volume_shape[0], m.volume_shape[1], m.volume_shape[2]};
  if (prediction.logits.shape() != expected)
    throw InputError(m.request.model_dir.string(), "the model returned logits " + shape_string(prediction.logits.shape()) +
                                                       ", expected " + shape_string(expected));

  FewshotResult r;
  r.case_name = q.case_name;
  r.classes = m.classes;
  r.class_names = m.class_names;
  r.strategy = settings.strategy;
  const Stopwatch post_start;
  r.probabilities = probabilities_to_query(sigmoid(prediction.logits.to_f32()), classes, m.volume_shape, query.original);
  r.grid = grid_of(query.original);
  r.masks = make_class_masks(r.probabilities, classes, r.grid, settings.masks);
  r.labels.shape = query.original.spatial_shape();
  r.labels.spacing = query.original.spacing;
  r.labels.labels = merge_labels(r.masks, r.probabilities, classes, m.classes);
  r.stats = class_statistics(r.masks, r.probabilities, classes, r.grid, query.original.spacing);
  r.mean_confidence = mean_binary_confidence(r.probabilities);
  const auto& labels = r.labels.labels;
  const auto foreground = std::count_if(labels.begin(), labels.end(), [](std::uint8_t v) { return v != 0; });
  r.foreground_fraction = static_cast<double>(foreground) / static_cast<double>(labels.size());
  r.quality = check_quality(r.mean_confidence, r.foreground_fraction, settings.quality);
  std::vector<std::uint8_t> reference_masks;
  if (query_mask) reference_masks = mask_channels_native(*query_mask, m.classes);
  const double post_s = post_start.seconds();

  const bool is_3d = query.original.spatial_dims() == 3;
  json class_list = json::array();
  const std::size_t per = r.grid.voxels();
  for (std::size_t k = 0; k < m.classes.size(); ++k) {
    const auto& st = r.stats[k];
    json c{{"id", m.classes[k]},
           {"name", m.class_names[k]},
           {"voxels", st.voxels},
           {"fraction", st.fraction},
           {"mean_confidence", st.mean_confidence}};
    if (is_3d) c["volume_ml"] = st.volume_ml;
    else c["area_mm2"] = st.volume_ml * 1000.0;
    if (query_mask) {
      const auto d = dice(std::span(r.masks).subspan(k * per, per), std::span(reference_masks).subspan(k * per, per));
      c["dice"] = d ? json(*d) : json(nullptr);
    }
    class_list.push_back(c);
  }
  json checks = json::array();
  for (const auto& c : r.quality.checks)
    checks.push_back({{"name", c.name}, {"value", c.value}, {"threshold", c.threshold}, {"passed", c.passed}, {"reason", c.reason}});
  json inputs{{"query", describe_image(q.image, query.original, query.sha256)}, {"supports", m.supports}};
  if (query_mask) inputs["query_mask"] = describe_image(*q.mask, query_mask->original, query_mask->sha256);
  const auto& cfg = m.request.config_file;
  r.report = {
      {"case", q.case_name},
      {"medport_version", std::string(kVersion)},
      {"strategy", settings.strategy},
      {"strategy_details", prediction.details},
      {"model", {{"folder", m.request.model_dir.string()}, {"volume_shape", m.volume_shape}}},
      {"config_file", cfg ? json(cfg->string()) : json(nullptr)},
      {"inputs", inputs},
      {"preprocessing", {{"normalize", settings.normalize}}},
      {"threshold", settings.masks.threshold},
      {"postprocessing",
       {{"largest_component", settings.masks.largest_component},
        {"connectivity", settings.masks.connectivity},
        {"morphology_radius", settings.masks.morphology_radius}}},
      {"classes", class_list},
      {"mean_confidence", r.mean_confidence},
      {"foreground_fraction", r.foreground_fraction},
      {"quality", {{"passed", r.quality.passed}, {"checks", checks}}},
  };
  r.report["timings"] = {{"read_s", read_s},
                         {"encode_s", m.runner->preparation().value("encode_seconds", 0.0)},
                         {"encode_is_shared", true},  // supports are encoded once per run
                         {"predict_s", prediction.predict_seconds},
                         {"postprocess_s", post_s}};
  r.logits = std::move(prediction.logits);
  r.query = std::move(query.original);
  r.seconds = start.seconds();
  return r;
}

}  // namespace medport::pipelines::fewshot
