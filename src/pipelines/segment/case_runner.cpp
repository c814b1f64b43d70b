#include "medport/pipelines/segment/case_runner.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/imaging/luminance.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"
#include "medport/pipelines/batch/case_outputs.hpp"
#include "medport/pipelines/segment/summary.hpp"
#include "medport/util/file_io.hpp"
#include "medport/version.hpp"
#include "medport/util/json_text.hpp"

namespace medport::segment {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::vector<float> sigmoid_of(std::span<const float> logits) {
  std::vector<float> probs(logits.begin(), logits.end());
  imaging::nnunet::sigmoid_in_place(probs);
  return probs;
}

Shape with_classes(std::int64_t classes, const Shape& spatial) {
  Shape s{classes};
  s.insert(s.end(), spatial.begin(), spatial.end());
  return s;
}

// What the stages collect about a case on its way to a SegmentResult.
struct CaseResult {
  Json input;
  Shape spatial;                          // label map shape
  std::vector<std::uint8_t> labels;
  std::vector<double> spacing;            // mm per axis of `spatial`; empty when unknown
  std::span<const float> overlay_image;   // (spatial) first channel, for 2D overlays
  std::span<const float> logits;          // as predicted (K, *logits_spatial)
  Shape logits_spatial;
  std::vector<float> probabilities;       // (K, *spatial) when requested
  double confidence = 0;
  Timings timings;
  Json stage_ms = Json::object();
};

Json summary_json(std::span<const LoadedModel> models, const std::string& name, const CaseResult& r,
                  const CaseOptions& options) {
  const ModelInfo& info = models.front().info;
  Json model_list = Json::array();
  for (const auto& m : models)
    model_list.push_back({{"onnx", fs::absolute(m.info.onnx_path).string()},
                          {"onnx_sha256", m.onnx_sha256},
                          {"sidecar", fs::absolute(m.info.sidecar_path).string()},
                          {"checkpoint_sha256", m.info.checkpoint_sha256},
                          {"configuration", m.info.configuration}});
  const bool is2d = r.spatial.size() == 2;
  Json label_list = Json::array();
  for (const auto& c : count_labels(r.labels, info, r.spacing)) {
    Json j{{"name", c.name}, {"value", c.value}, {is2d ? "pixels" : "voxels", c.voxels}};
    if (c.physical >= 0) j[is2d ? "area_mm2" : "volume_ml"] = c.physical;
    label_list.push_back(j);
  }
  const auto& p = options.predictor;
  Json timings = r.stage_ms;
  timings["pad"] = r.timings.pad_ms;
  timings["network"] = r.timings.network_ms;
  timings["accumulate"] = r.timings.accumulate_ms;
  timings["predict"] = r.timings.total_ms;
  Json confidence = info.has_regions ? Json{{"mean_region_certainty", r.confidence}}
                                     : Json{{"mean_max_probability", r.confidence}};
  Json summary{
      {"case", name},
      {"medport_version", std::string(kVersion)},
      {"input", r.input},
      {"models", model_list},
      {"settings",
       {{"mirroring", p.mirror && !info.allowed_mirroring_axes.empty()},
        {"mirror_axes", p.mirror ? info.allowed_mirroring_axes : std::vector<int>{}},
        {"tile_step_size", p.tile_step_size.value_or(info.tile_step_size)},
        {"patch_size", info.patch_size},
        {"gaussian_precision", p.gaussian_precision == imaging::GaussianPrecision::Float32 ? "float32" : "float16"},
        {"tile_batch", p.tile_batch},
        {"workers", p.workers},
        {"nonlinearity", info.has_regions ? "sigmoid" : "softmax"}}},
      {"shape", r.spatial},
      {"spacing_mm", r.spacing.empty() ? Json(nullptr) : Json(r.spacing)},
      {"labels", label_list},
      {"confidence", confidence},
      {"tiles", r.timings.tiles},
      {"network_inputs", r.timings.network_inputs},
      {"run_calls", r.timings.run_calls},
      {"timings_ms", timings}};
  if (info.has_regions) {
    Json region_list = Json::array();
    for (const auto& c : count_regions(r.labels, info, r.spacing)) {
      Json j{{"name", c.name}, {"labels", c.members}, {is2d ? "pixels" : "voxels", c.voxels}};
      if (c.physical >= 0) j[is2d ? "area_mm2" : "volume_ml"] = c.physical;
      region_list.push_back(j);
    }
    summary["regions"] = region_list;
    summary["settings"]["regions_class_order"] = info.regions_class_order;
  }
  return summary;
}

// The finished case in memory: label map, the arrays asked for, the overlay and the summary.
SegmentResult build_result(std::span<const LoadedModel> models, const std::string& name, CaseResult& r,
                           const CaseOptions& options, double busy_ms, std::optional<imaging::Image> reference,
                           const std::string& label_ending) {
  const ModelInfo& info = models.front().info;
  const std::int64_t classes = info.output_channels;
  SegmentResult result;
  result.case_name = name;
  result.labels = imaging::LabelImage(r.spatial, r.spacing);
  result.labels.labels = r.labels;
  result.reference = std::move(reference);
  result.label_ending = label_ending;
  if (options.save_probabilities)
    result.probabilities = Tensor::from_f32(with_classes(classes, r.spatial), r.probabilities);
  if (options.save_logits) result.logits = Tensor::from_f32(with_classes(classes, r.logits_spatial), r.logits);
  if (options.overlay && r.spatial.size() == 2 && !r.overlay_image.empty()) {
    const auto stage = Clock::now();
    result.overlay_png = render_overlay_png(r.overlay_image, r.labels, r.spatial[0], r.spatial[1], label_names(info),
                                            options.overlay_options);
    busy_ms += ms_since(stage);
  }
  result.summary = summary_json(models, name, r, options);
  result.busy_ms = busy_ms;
  return result;
}

std::vector<float> predict_or_name(std::span<const LoadedModel> models, std::span<const float> image, const Shape& shape,
                                   const CaseOptions& options, Timings& timings, const std::string& source) {
  try {
    return predict_logits(models, image, shape, options.predictor, &timings);
  } catch (const InputError& e) {
    throw InputError(source, e.what());
  }
}

// The sidecar's "nnunet" section (validated once by load_model_info).
Json read_sidecar_json(const ModelInfo& info) {
  return Json::parse(models::read_sidecar(info.onnx_path, "nnunet").family_section.dump());
}

}  // namespace

// Everything one case carries from stage to stage.
struct CaseJob::State {
  CaseInput input;
  bool preprocessed = false;
  CaseResult r;
  double busy_ms = 0;      // the case's own stage times so far
  Shape network_shape;     // (C, *spatial) given to the predictor
  std::span<const float> network_input;
  std::vector<float> logits;
  // preprocessed inputs
  Tensor array;
  std::vector<float> converted;
  // raw inputs
  imaging::Image image;
  imaging::nnunet::PreprocessingConfig config;
  imaging::nnunet::LabelConfig label_config;
  imaging::nnunet::PreprocessedCase pre;
};

CaseJob::CaseJob() = default;
CaseJob::CaseJob(CaseJob&&) noexcept = default;
CaseJob& CaseJob::operator=(CaseJob&&) noexcept = default;
CaseJob::~CaseJob() = default;

namespace {

void prepare_preprocessed(const ModelInfo& info, CaseJob::State& s) {
  if (s.input.files.size() != 1) throw InputError(s.input.name, "a preprocessed case is one (C, *spatial) .npy file");
  const fs::path& path = s.input.files.front();
  const auto input_bytes = read_file(path);
  s.array = ckpt::read_npy(input_bytes, path.string());
  const Tensor& array = s.array;
  const DType d = array.dtype();
  if (!dtype_is_floating(d) && d != DType::U8 && d != DType::U16 && d != DType::I16 && d != DType::I32)
    throw InputError(path.string(), "expected a float or integer image array, got " + std::string(dtype_name(array.dtype())));
  Shape shape = array.shape();
  // A 2D/3D array without a channel axis is accepted for single-channel models.
  if (info.input_channels == 1 && shape.size() == static_cast<std::size_t>(info.spatial_dims)) shape.insert(shape.begin(), 1);
  if (array.dtype() == DType::F32 && array.is_contiguous()) {
    s.network_input = {array.data<float>(), static_cast<std::size_t>(array.numel())};
  } else {
    s.converted = array.to_f32();
    s.network_input = s.converted;
  }
  s.network_shape = shape;
  s.r.input = {{"path", fs::absolute(path).string()},
               {"sha256", sha256_hex(input_bytes)},
               {"shape", array.shape()},
               {"dtype", std::string(dtype_name(array.dtype()))},
               {"preprocessed", true}};
}

void prepare_raw(const ModelInfo& info, const CaseOptions& options, CaseJob::State& s) {
  namespace nn = imaging::nnunet;
  const auto& files = s.input.files;
  auto stage = Clock::now();
  s.image = files.size() == 1 ? imaging::read_image(files.front(), options.read)
                              : imaging::read_channels(files, options.read);
  Json file_list = Json::array();
  for (const auto& f : files)
    if (fs::is_directory(f)) {  // a DICOM series folder: the instances read
      for (const auto& slice : s.image.geometry.dicom->slices)
        file_list.push_back({{"path", fs::absolute(slice.file).string()}, {"sha256", sha256_hex(read_file(slice.file))}});
    } else {
      file_list.push_back({{"path", fs::absolute(f).string()}, {"sha256", sha256_hex(read_file(f))}});
    }
  s.r.input = {{"files", file_list},
               {"format", imaging::format_name(s.image.geometry.format)},
               {"shape", s.image.shape},
               {"spacing_mm", s.image.spacing},
               {"dtype", s.image.original_dtype},
               {"preprocessed", false}};
  // RGB(A) exports of gray frames, for a one-channel model: their luminance (imaging/luminance.hpp)
  if (info.input_channels == 1 && imaging::is_colour_frame(s.image)) {
    s.r.input["converted_to_luminance_from"] = s.image.channels() == 3 ? "RGB" : "RGBA";
    s.image = imaging::to_luminance(s.image);
  }
  s.r.stage_ms["read"] = ms_since(stage);

  stage = Clock::now();
  const Json sidecar = read_sidecar_json(info);
  s.config = nn::config_from_sidecar(sidecar, info.sidecar_path.string());
  s.label_config = nn::label_config_from_sidecar(sidecar, info.sidecar_path.string());
  try {
    s.pre = nn::preprocess(s.image, s.config);
  } catch (const InputError& e) {
    throw InputError(files.front().string(), e.what());
  }
  s.network_shape = s.pre.shape;
  s.network_input = s.pre.data;
  s.r.stage_ms["preprocess"] = ms_since(stage);
}

// Label map, confidence and (on request) probabilities of logits in their own geometry.
void labels_from_logits(const ModelInfo& info, bool with_probabilities, CaseResult& r) {
  const std::int64_t classes = info.output_channels;
  if (info.has_regions) {
    auto probs = sigmoid_of(r.logits);
    r.labels = imaging::nnunet::paint_regions(probs, info.regions_class_order);
    r.confidence = mean_region_certainty(probs);
    if (with_probabilities) r.probabilities = std::move(probs);
  } else {
    r.labels = argmax_labels(r.logits, classes);
    r.confidence = mean_max_probability(r.logits, classes);
    if (with_probabilities) r.probabilities = softmax_probabilities(r.logits, classes);
  }
}

SegmentResult finish_preprocessed(std::span<const LoadedModel> models, CaseJob::State& s, const CaseOptions& options) {
  const ModelInfo& info = models.front().info;
  CaseResult& r = s.r;
  r.spatial = Shape(s.network_shape.begin() + 1, s.network_shape.end());
  r.logits_spatial = r.spatial;
  const auto stage = Clock::now();
  labels_from_logits(info, options.save_probabilities, r);
  r.stage_ms["argmax_confidence"] = ms_since(stage);
  s.busy_ms += ms_since(stage);
  // The input is at the model's target spacing (a 2D model run slice-wise has no through-plane spacing).
  if (info.spacing.size() == r.spatial.size()) r.spacing = info.spacing;
  if (r.spatial.size() == 2)
    r.overlay_image = s.network_input.subspan(0, static_cast<std::size_t>(r.spatial[0] * r.spatial[1]));
  return build_result(models, s.input.name, r, options, s.busy_ms, std::nullopt, ".npy");
}

SegmentResult finish_raw(std::span<const LoadedModel> models, CaseJob::State& s, const CaseOptions& options) {
  const ModelInfo& info = models.front().info;
  CaseResult& r = s.r;
  const std::int64_t classes = info.output_channels;
  const auto stage = Clock::now();
  r.confidence = info.has_regions ? mean_region_certainty(sigmoid_of(r.logits))
                                  : mean_max_probability(r.logits, classes);
  auto exported = imaging::nnunet::export_prediction(r.logits, with_classes(classes, r.logits_spatial), s.pre.record,
                                                     s.config, s.label_config, options.save_probabilities);
  r.stage_ms["export"] = ms_since(stage);
  s.busy_ms += ms_since(stage);
  r.spatial = s.image.spatial_shape();
  if (static_cast<std::int64_t>(exported.labels.size()) != shape_numel(r.spatial))
    throw InputError(s.input.name, "exported label map does not match the image size");
  r.labels = std::move(exported.labels);
  r.probabilities = std::move(exported.probabilities);
  r.spacing = s.image.spacing;
  if (r.spatial.size() == 2)
    r.overlay_image = std::span<const float>(s.image.data).subspan(0, static_cast<std::size_t>(shape_numel(r.spatial)));
  auto result = build_result(models, s.input.name, r, options, s.busy_ms, std::nullopt,
                             imaging::label_map_ending(s.image, s.input.files.front()));
  if (options.dicom_seg) {
    if (!s.image.geometry.dicom) throw InputError(s.input.files.front().string(), "--dicom-seg needs a DICOM input");
    const auto names = label_names(info);
    for (std::size_t v = 1; v < names.size() && v < 256; ++v)
      result.dicom_segments.push_back({static_cast<std::uint8_t>(v), names[v]});
  }
  s.image.data = {};  // the overlay is drawn; the writer needs the geometry only
  result.reference = std::move(s.image);
  return result;
}

void require_models(std::span<const LoadedModel> models) {
  if (models.empty()) throw UsageError("segment: no model given");
}

}  // namespace

std::vector<CaseInput> collect_cases(std::span<const fs::path> inputs, bool preprocessed, const std::string& file_ending) {
  std::vector<CaseInput> cases;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      if (preprocessed) {
        std::vector<fs::path> found;
        for (const auto& entry : fs::directory_iterator(in))
          if (entry.is_regular_file() && entry.path().extension() == ".npy") found.push_back(entry.path());
        std::sort(found.begin(), found.end());
        for (const auto& f : found) cases.push_back({pipelines::batch::case_name_for(f), {f}});
      } else {
        auto grouped = imaging::group_cases(in, file_ending);
        if (grouped.empty() && dicom::is_dicom_folder(in)) {  // a DICOM series folder is one case
          const fs::path folder = in.filename().empty() ? in.parent_path() : in;
          cases.push_back({folder.filename().string(), {in}});
        }
        for (auto& c : grouped) cases.push_back({c.identifier, c.channel_files});
      }
    } else if (fs::is_regular_file(in, ec)) {
      cases.push_back({pipelines::batch::case_name_for(in), {in}});
    } else {
      throw InputError(in.string(), unusable_input_reason(in));
    }
  }
  if (cases.empty())
    throw UsageError(preprocessed ? "no input cases found (folders are searched for *.npy files)"
                                  : "no input cases found (folders are searched for <case>_XXXX" + file_ending + " files)");
  pipelines::batch::check_case_names(cases);
  return cases;
}

CaseJob prepare_case(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options) {
  require_models(models);
  const auto start = Clock::now();
  CaseJob job;
  job.state = std::make_unique<CaseJob::State>();
  auto& s = *job.state;
  s.input = input;
  s.preprocessed = options.preprocessed;
  if (s.preprocessed) {
    prepare_preprocessed(models.front().info, s);
    s.r.stage_ms["read"] = ms_since(start);
  } else {
    prepare_raw(models.front().info, options, s);
  }
  s.busy_ms += ms_since(start);
  return job;
}

void predict_case(std::span<const LoadedModel> models, CaseJob& job, const CaseOptions& options) {
  require_models(models);
  if (!job.state) throw UsageError("predict_case: empty job");
  auto& s = *job.state;
  const auto start = Clock::now();
  const std::string source = s.input.files.empty() ? s.input.name : s.input.files.front().string();
  s.logits = predict_or_name(models, s.network_input, s.network_shape, options, s.r.timings, source);
  s.r.logits = s.logits;
  s.r.logits_spatial = Shape(s.network_shape.begin() + 1, s.network_shape.end());
  s.busy_ms += ms_since(start);
}

SegmentResult finish_case(std::span<const LoadedModel> models, CaseJob job, const CaseOptions& options) {
  require_models(models);
  if (!job.state) throw UsageError("finish_case: empty job");
  auto& s = *job.state;
  return s.preprocessed ? finish_preprocessed(models, s, options) : finish_raw(models, s, options);
}

SegmentResult compute_case(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options) {
  CaseJob job = prepare_case(models, input, options);
  predict_case(models, job, options);
  return finish_case(models, std::move(job), options);
}

CaseOutputs segment_case(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options) {
  return write_case_outputs(compute_case(models, input, options), options.output_dir);
}

CaseOutputs write_case_outputs(const SegmentResult& result, const fs::path& output_dir) {
  const auto stage = Clock::now();
  const std::string& name = result.case_name;
  pipelines::batch::CaseOutputFiles files(output_dir);
  Json outputs = Json::object();
  auto stage_file = [&](const char* key, const std::string& file_name) {
    outputs[key] = file_name;
    return files.path(file_name);
  };
  const fs::path seg = stage_file("segmentation", name + "_seg" + result.label_ending);
  if (result.reference) {
    imaging::write_label_map(seg, result.labels, *result.reference);
  } else {
    ckpt::write_npy_file(seg, Tensor::from_bytes(DType::U8, result.labels.shape, std::as_bytes(std::span(result.labels.labels))));
  }
  if (result.probabilities)
    ckpt::write_npz(stage_file("probabilities", name + "_probabilities.npz"), {{"probabilities", *result.probabilities}});
  if (result.logits) ckpt::write_npz(stage_file("logits", name + "_logits.npz"), {{"logits", *result.logits}});
  if (!result.overlay_png.empty()) write_file_atomic(stage_file("overlay", name + "_overlay.png"), result.overlay_png);
  if (!result.dicom_segments.empty() && result.reference && result.reference->geometry.dicom) {
    dicom::CreatorInfo creator;
    creator.algorithm_name = "medport segment";
    creator.algorithm_version = std::string(kVersion);
    dicom::write_segmentation(stage_file("dicom_seg", name + "_seg.dcm"), *result.reference->geometry.dicom,
                              result.labels.labels, result.dicom_segments, creator);
  }

  Json summary = result.summary;
  summary["outputs"] = outputs;
  const double write_ms = ms_since(stage);
  summary["timings_ms"]["write"] = write_ms;
  // The case's own work (stages summed): with overlapped batch I/O the wall time between its
  // read and its write also holds other cases' stages.
  summary["timings_ms"]["total"] = result.busy_ms + write_ms;
  const std::string marker = pipelines::batch::done_marker(output_dir, name).filename().string();
  write_file_atomic(files.path(marker), json_text(summary) + "\n");
  CaseOutputs written;
  written.case_name = name;
  written.files = files.commit(marker);
  written.seconds = (result.busy_ms + ms_since(stage)) / 1000.0;
  return written;
}

}  // namespace medport::segment
