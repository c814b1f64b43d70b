#include "medport/pipelines/fewshot/pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"
#include "medport/pipelines/batch/report.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/pipelines/fewshot/bank_files.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"
#include "medport/pipelines/fewshot/model_inputs.hpp"
#include "medport/pipelines/fewshot/strategy_runner.hpp"
#include "medport/pipelines/fewshot/support_pool.hpp"
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
  // Every class is one more query channel through the network (memory grows with it); a mask
  // with hundreds of label values is a damaged or wrong file, not a segmentation task.
  constexpr std::size_t kMaxClasses = 32;
  if (classes.size() > kMaxClasses)
    throw InputError(masks.empty() ? bank_file_for(s, model_dir).string() : s.supports[0].mask.string(),
                     std::to_string(classes.size()) + " classes to segment at once, more than " + std::to_string(kMaxClasses) +
                         " (pick some with --classes)");
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
    const auto image = read_model_image(s.supports[i].image, volume_shape, s.preprocessing, s.dicom);
    check_same_grid(image.original, masks[i].original);
    const auto model_masks = mask_channels_for_model(masks[i], classes, volume_shape, s.preprocessing).to_f32();
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

json preprocessing_json(const PreprocessingSettings& p) {
  json j{{"resize", p.resize}, {"normalize", p.normalize}};
  if (p.normalize == "modality") {
    const std::string modality = canonical_modality(p.modality);
    j["modality"] = modality;
    if (modality == "CT") j["clip"] = p.clip.value_or(std::array<double, 2>{-1024.0, 1024.0});
    if (modality == "MRI") j["percentiles"] = p.percentiles;
  }
  j["target_spacing"] = p.target_spacing.empty() ? json(nullptr) : json(p.target_spacing);
  return j;
}

// The settings' mask options with the minimum object size in voxels of this query's grid: a size
// in mm3 (2D: mm2) becomes ceil(size / voxel volume), so an object is removed exactly when its
// physical size is below the given one.
MaskOptions mask_options_for(const FewshotSettings& s, const std::vector<double>& spacing) {
  MaskOptions m = s.masks;
  double per_voxel = 1.0;
  if (s.min_object_unit == "mm3")
    for (double v : spacing) per_voxel *= v;
  m.min_object_voxels = static_cast<std::int64_t>(std::ceil(s.min_object_size / per_voxel - 1e-9));
  return m;
}

// Where the guide's `model:` block describes another model than the converted one: the
// converted model is what runs (its volume is what inputs are brought to), so each difference
// is reported - in the case JSON and as a warning - rather than silently ignored or fatal.
std::vector<std::string> model_mismatches(const ModelExpectations& e, const fs::path& model_dir) {
  const json iris = read_iris_facts(model_dir);
  std::vector<std::string> out;
  auto check = [&](const char* key, const json& want) {
    if (want.is_null() || !iris.contains(key) || iris[key] == want) return;
    out.push_back(std::string("the config's model.") + key + " is " + want.dump() + " but the converted model's is " +
                  iris[key].dump());
  };
  auto count = [](const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); };
  check("in_channels", count(e.in_channels));
  check("base_channels", count(e.base_channels));
  check("num_query_tokens", count(e.num_query_tokens));
  check("num_attention_heads", count(e.num_attention_heads));
  check("volume_shape", e.volume_shape ? json(*e.volume_shape) : json(nullptr));
  return out;
}

// --provider cuda that this machine cannot run is refused (session_options_from_flags); a config
// file's device cuda falls back to cpu (noted), so that the guide's configurations run unchanged
// anywhere.
runtime::SessionOptions session_options_for(const FewshotSettings& s, std::string& note) {
  if (s.provider == "cuda" && s.provider_from_config && !runtime::cuda_provider_available(s.device)) {
    note = "cuda is not available here: ran on cpu";
    return runtime::session_options_from_flags(s.threads, "cpu");
  }
  return runtime::session_options_from_flags(s.threads, s.provider, s.device);
}

json describe_image(const fs::path& path, const imaging::Image& image, const std::string& sha256) {
  return {{"path", path.string()}, {"sha256", sha256}, {"shape", image.spatial_shape()}, {"spacing", image.spacing},
          {"format", imaging::format_name(image.geometry.format)}};
}

}  // namespace

json read_iris_facts(const fs::path& model_dir) {
  return json::parse(models::read_sidecar(model_dir, "iris").family_section.dump());
}

Shape read_volume_shape(const fs::path& model_dir) {
  const fs::path sidecar = models::sidecar_path_for(model_dir);
  const json iris = read_iris_facts(model_dir);
  const json shape = iris.contains("volume_shape") ? iris["volume_shape"] : json();
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
  json pool = nullptr;          // how --support-dir supports were chosen
  std::string device_note;      // why the device differs from the one asked for
  std::vector<std::string> warnings;
  std::shared_ptr<const IrisModel> model;
  std::unique_ptr<StrategyRunner> runner;
};

namespace {

// settings.pool -> settings.supports: the classes for choosing are settings.classes, else every
// label of the pool's masks.
void choose_from_pool(FewshotPipeline::Impl& m) {
  FewshotSettings& s = m.request.settings;
  std::vector<LabelFile> pool_masks;
  for (const auto& pair : find_support_pairs(s.pool.dir)) pool_masks.push_back(read_label_file(pair.files.mask, s.dicom));
  FewshotSettings for_classes = s;
  for (std::size_t i = 0; i < pool_masks.size(); ++i) for_classes.supports.push_back({"", pool_masks[i].original.source});
  const auto classes = choose_classes(for_classes, pool_masks, m.request.model_dir);
  auto load = [&](const SupportPair& pair) {
    const auto image = read_model_image(pair.image, m.volume_shape, s.preprocessing, s.dicom);
    const LabelFile mask = read_label_file(pair.mask, s.dicom);
    check_same_grid(image.original, mask.original);
    return std::pair<Tensor, Tensor>(image.model_input, mask_channels_for_model(mask, classes,
                                                                                m.volume_shape, s.preprocessing));
  };
  auto encode = [&](const Tensor& image, const Tensor& masks) { return m.model->encode_support(image, masks); };
  const std::size_t count = s.pool.num_support > 0 ? static_cast<std::size_t>(s.pool.num_support) : (s.strategy == "one-shot" ? 1 : 3);
  auto choice = choose_supports(s.pool, count, load, encode, m.volume_shape);
  s.supports = std::move(choice.supports);
  m.pool = std::move(choice.report);
}

}  // namespace

FewshotPipeline::FewshotPipeline(FewshotRequest request) : FewshotPipeline(std::move(request), nullptr) {}

FewshotPipeline::FewshotPipeline(FewshotRequest request, std::shared_ptr<const IrisModel> model)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.request = std::move(request);
  FewshotSettings& s = m.request.settings;
  const fs::path& model_dir = m.request.model_dir;
  validate(s);
  m.volume_shape = read_volume_shape(model_dir);
  m.warnings = model_mismatches(s.model, model_dir);
  m.model = model ? std::move(model) : std::make_shared<const IrisModel>(model_dir, session_options_for(s, m.device_note));
  if (!s.pool.dir.empty()) choose_from_pool(m);
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
  m.runner = std::make_unique<StrategyRunner>(*m.model, s, model_dir, m.classes, std::move(supports));
}

FewshotPipeline::~FewshotPipeline() = default;

const FewshotRequest& FewshotPipeline::request() const { return impl_->request; }
const FewshotSettings& FewshotPipeline::settings() const { return impl_->request.settings; }
const Shape& FewshotPipeline::volume_shape() const { return impl_->volume_shape; }
const std::vector<std::int64_t>& FewshotPipeline::classes() const { return impl_->classes; }
const json& FewshotPipeline::preparation() const { return impl_->runner->preparation(); }
const std::vector<std::string>& FewshotPipeline::warnings() const { return impl_->warnings; }

namespace {

// A query read and brought to the model's volume.
struct ReadQuery {
  ModelImage query;
  std::optional<LabelFile> mask;
  std::optional<Tensor> mask_model;  // (1,K,D,H,W)
  double read_s = 0.0;
};

ReadQuery read_query(const FewshotQuery& q, const FewshotPipeline::Impl& m) {
  const FewshotSettings& settings = m.request.settings;
  const Stopwatch start;
  ReadQuery r{read_model_image(q.image, m.volume_shape, settings.preprocessing, settings.dicom), std::nullopt, std::nullopt,
              0.0};
  if (q.mask) {
    r.mask = read_label_file(*q.mask, settings.dicom);
    check_same_grid(r.query.original, r.mask->original);
    r.mask_model = mask_channels_for_model(*r.mask, m.classes, m.volume_shape, settings.preprocessing);
  }
  r.read_s = start.seconds();
  return r;
}

FewshotResult finish(const FewshotQuery& q, ReadQuery& read, Prediction& prediction, const FewshotPipeline::Impl& m);

}  // namespace

std::vector<QueryOutcome> FewshotPipeline::run_many(std::span<const FewshotQuery> queries) const {
  const Impl& m = *impl_;
  std::vector<QueryOutcome> out(queries.size());
  std::vector<std::optional<ReadQuery>> read(queries.size());
  std::vector<Tensor> inputs;
  std::vector<std::optional<Tensor>> masks;
  std::vector<std::size_t> which;  // query index of each network input
  for (std::size_t i = 0; i < queries.size(); ++i) {
    try {
      read[i] = read_query(queries[i], m);
      inputs.push_back(read[i]->query.model_input);
      masks.push_back(read[i]->mask_model);
      which.push_back(i);
    } catch (const std::exception& e) {
      if (!batch::fails_only_its_case(e)) throw;
      out[i].error = std::current_exception();
    }
  }
  auto predictions = m.runner->predict_batch(inputs, masks);
  for (std::size_t j = 0; j < which.size(); ++j) {
    const std::size_t i = which[j];
    try {
      out[i].result = finish(queries[i], *read[i], predictions[j], m);
    } catch (const std::exception& e) {
      if (!batch::fails_only_its_case(e)) throw;
      out[i].error = std::current_exception();
    }
  }
  return out;
}

FewshotResult FewshotPipeline::run(const FewshotQuery& q) const {
  auto outcome = std::move(run_many(std::span(&q, 1)).front());
  if (outcome.error) std::rethrow_exception(outcome.error);
  return std::move(*outcome.result);
}

namespace {

FewshotResult finish(const FewshotQuery& q, ReadQuery& read, Prediction& prediction, const FewshotPipeline::Impl& m) {
  const FewshotSettings& settings = m.request.settings;
  const Stopwatch start;
  const auto classes = static_cast<std::int64_t>(m.classes.size());
  ModelImage& query = read.query;
  const auto& query_mask = read.mask;
  if (settings.update_bank && read.mask_model)
    prediction.details["bank_learned_query"] = m.runner->learn_from_query(query.model_input, *read.mask_model, q.image.string());
  const Shape expected{1, classes, m.volume_shape[0], m.volume_shape[1], m.volume_shape[2]};
  if (prediction.logits.shape() != expected)
    throw InputError(m.request.model_dir.string(), "the model returned logits " + shape_string(prediction.logits.shape()) +
                                                       ", expected " + shape_string(expected));
  const double read_s = read.read_s;

  FewshotResult r;
  r.case_name = q.case_name;
  r.classes = m.classes;
  r.class_names = m.class_names;
  r.strategy = settings.strategy;
  const Stopwatch post_start;
  const auto model_probabilities =
      prediction.probabilities.empty() ? sigmoid(prediction.logits.to_f32()) : prediction.probabilities;
  r.probabilities = probabilities_to_query(model_probabilities, classes, m.volume_shape, query.original, settings.preprocessing);
  r.grid = grid_of(query.original);
  const MaskOptions mask_options = mask_options_for(settings, query.original.spacing);
  r.masks = make_class_masks(r.probabilities, classes, r.grid, mask_options);
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
  if (!m.pool.is_null()) inputs["support_pool"] = m.pool;
  if (query_mask) inputs["query_mask"] = describe_image(*q.mask, query_mask->original, query_mask->sha256);
  const auto& cfg = m.request.config_file;
  r.report = {
      {"case", q.case_name},
      {"medport_version", std::string(kVersion)},
      {"strategy", settings.strategy},
      {"strategy_details", prediction.details},
      {"model", {{"folder", m.request.model_dir.string()}, {"volume_shape", m.volume_shape}, {"config_mismatches", m.warnings}}},
      {"device", m.device_note.empty() ? json(settings.provider) : json(m.device_note)},
      {"config_file", cfg ? json(cfg->string()) : json(nullptr)},
      {"inputs", inputs},
      {"preprocessing", preprocessing_json(settings.preprocessing)},
      {"threshold", settings.masks.threshold},
      {"postprocessing",
       {{"largest_component", mask_options.largest_component},
        {"connectivity", mask_options.connectivity},
        {"morphology_radius", mask_options.morphology_radius},
        {"min_object_size", settings.min_object_size},
        {"min_object_unit", settings.min_object_unit},
        {"min_object_voxels", mask_options.min_object_voxels},
        {"fill_holes", mask_options.fill_holes},
        {"order", "threshold, morphology, small objects, fill holes, largest component"}}},
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
  r.seconds = read_s + prediction.predict_seconds + start.seconds();
  return r;
}

}  // namespace

}  // namespace medport::pipelines::fewshot
