#include "medport/pipelines/segment/case_runner.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"
#include "medport/pipelines/segment/summary.hpp"
#include "medport/util/file_io.hpp"
#include "medport/version.hpp"

namespace medport::segment {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Tensor f32_tensor(const Shape& shape, std::span<const float> values) {
  const auto* p = reinterpret_cast<const std::byte*>(values.data());
  std::vector<std::byte> bytes(p, p + values.size() * sizeof(float));
  return Tensor(std::make_shared<const Storage>(DType::F32, std::move(bytes)), 0, shape, contiguous_strides(shape));
}

Tensor u8_tensor(const Shape& shape, const std::vector<std::uint8_t>& values) {
  const auto* p = reinterpret_cast<const std::byte*>(values.data());
  std::vector<std::byte> bytes(p, p + values.size());
  return Tensor(std::make_shared<const Storage>(DType::U8, std::move(bytes)), 0, shape, contiguous_strides(shape));
}

Shape with_classes(std::int64_t classes, const Shape& spatial) {
  Shape s{classes};
  s.insert(s.end(), spatial.begin(), spatial.end());
  return s;
}

// Everything a finished prediction hands to the writer.
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

CaseOutputs write_case(std::span<const LoadedModel> models, const std::string& name, CaseResult& r,
                       const CaseOptions& options, Clock::time_point case_start,
                       const std::function<void(const fs::path&)>& write_labels, const std::string& seg_ending) {
  const ModelInfo& info = models.front().info;
  const std::int64_t classes = info.output_channels;
  CaseOutputs result;
  result.case_name = name;
  const auto counts = count_labels(r.labels, info, r.spacing);

  const auto stage = Clock::now();
  const fs::path& out = options.output_dir;
  Json outputs = Json::object();
  auto note = [&](const char* key, const fs::path& path) {
    result.files.push_back(path);
    outputs[key] = path.filename().string();
  };
  const fs::path seg_path = out / (name + "_seg" + seg_ending);
  write_labels(seg_path);
  note("segmentation", seg_path);
  if (options.save_probabilities) {
    const fs::path p = out / (name + "_probabilities.npz");
    ckpt::write_npz(p, {{"probabilities", f32_tensor(with_classes(classes, r.spatial), r.probabilities)}});
    note("probabilities", p);
  }
  if (options.save_logits) {
    const fs::path p = out / (name + "_logits.npz");
    ckpt::write_npz(p, {{"logits", f32_tensor(with_classes(classes, r.logits_spatial), r.logits)}});
    note("logits", p);
  }
  if (options.overlay && r.spatial.size() == 2 && !r.overlay_image.empty()) {
    std::vector<std::string> names(static_cast<std::size_t>(classes));
    for (const auto& c : counts) names[static_cast<std::size_t>(c.value)] = c.name;
    const auto png = render_overlay_png(r.overlay_image, r.labels, r.spatial[0], r.spatial[1], names,
                                        options.overlay_options);
    const fs::path p = out / (name + "_overlay.png");
    write_file_atomic(p, png);
    note("overlay", p);
  }
  r.stage_ms["write"] = ms_since(stage);

  Json model_list = Json::array();
  for (const auto& m : models)
    model_list.push_back({{"onnx", fs::absolute(m.info.onnx_path).string()},
                          {"onnx_sha256", m.onnx_sha256},
                          {"sidecar", fs::absolute(m.info.sidecar_path).string()},
                          {"checkpoint_sha256", m.info.checkpoint_sha256},
                          {"configuration", m.info.configuration}});
  Json label_list = Json::array();
  for (const auto& c : counts) {
    const bool is2d = r.spatial.size() == 2;
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
        {"workers", p.workers}}},
      {"shape", r.spatial},
      {"spacing_mm", r.spacing.empty() ? Json(nullptr) : Json(r.spacing)},
      {"labels", label_list},
      {"confidence", {{"mean_max_probability", r.confidence}}},
      {"tiles", r.timings.tiles},
      {"network_inputs", r.timings.network_inputs},
      {"run_calls", r.timings.run_calls},
      {"timings_ms", timings},
      {"outputs", outputs}};
  summary["timings_ms"]["total"] = ms_since(case_start);
  const fs::path summary_file = summary_path(out, name);
  write_file_atomic(summary_file, summary.dump(2) + "\n");
  result.files.push_back(summary_file);
  result.seconds = ms_since(case_start) / 1000.0;
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

CaseOutputs run_preprocessed(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options) {
  const auto case_start = Clock::now();
  const ModelInfo& info = models.front().info;
  if (input.files.size() != 1) throw InputError(input.name, "a preprocessed case is one (C, *spatial) .npy file");
  const fs::path& path = input.files.front();
  CaseResult r;

  auto stage = Clock::now();
  const auto input_bytes = read_file(path);
  const Tensor array = ckpt::read_npy(input_bytes, path.string());
  if (!dtype_is_floating(array.dtype()) && array.dtype() != DType::U8 && array.dtype() != DType::I16 &&
      array.dtype() != DType::I32)
    throw InputError(path.string(), "expected a float or integer image array, got " + std::string(dtype_name(array.dtype())));
  Shape shape = array.shape();
  // A 2D/3D array without a channel axis is accepted for single-channel models.
  if (info.input_channels == 1 && shape.size() == static_cast<std::size_t>(info.spatial_dims)) shape.insert(shape.begin(), 1);
  std::vector<float> converted;
  std::span<const float> image;
  if (array.dtype() == DType::F32 && array.is_contiguous()) {
    image = {array.data<float>(), static_cast<std::size_t>(array.numel())};
  } else {
    converted = array.to_f32();
    image = converted;
  }
  r.input = {{"path", fs::absolute(path).string()},
             {"sha256", sha256_hex(input_bytes)},
             {"shape", array.shape()},
             {"dtype", std::string(dtype_name(array.dtype()))},
             {"preprocessed", true}};
  r.stage_ms["read"] = ms_since(stage);

  const auto logits = predict_or_name(models, image, shape, options, r.timings, path.string());
  r.spatial = Shape(shape.begin() + 1, shape.end());
  r.logits = logits;
  r.logits_spatial = r.spatial;

  stage = Clock::now();
  const std::int64_t classes = info.output_channels;
  r.labels = argmax_labels(logits, classes);
  r.confidence = mean_max_probability(logits, classes);
  if (options.save_probabilities) r.probabilities = softmax_probabilities(logits, classes);
  r.stage_ms["argmax_confidence"] = ms_since(stage);
  // The input is at the model's target spacing (a 2D model run slice-wise has no through-plane spacing).
  if (info.spacing.size() == r.spatial.size()) r.spacing = info.spacing;
  if (r.spatial.size() == 2) r.overlay_image = image.subspan(0, static_cast<std::size_t>(r.spatial[0] * r.spatial[1]));
  return write_case(
      models, input.name, r, options, case_start,
      [&](const fs::path& p) { ckpt::write_npy_file(p, u8_tensor(r.spatial, r.labels)); }, ".npy");
}

Json read_sidecar_json(const ModelInfo& info) {
  const auto bytes = read_file(info.sidecar_path, std::size_t{64} << 20);
  return Json::parse(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

CaseOutputs run_raw(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options) {
  namespace nn = imaging::nnunet;
  const auto case_start = Clock::now();
  const ModelInfo& info = models.front().info;
  CaseResult r;

  auto stage = Clock::now();
  const imaging::Image image =
      input.files.size() == 1 ? imaging::read_image(input.files.front(), options.read)
                              : imaging::read_channels(input.files, options.read);
  Json files = Json::array();
  for (const auto& f : input.files)
    files.push_back({{"path", fs::absolute(f).string()}, {"sha256", sha256_hex(read_file(f))}});
  r.input = {{"files", files},
             {"format", imaging::format_name(image.geometry.format)},
             {"shape", image.shape},
             {"spacing_mm", image.spacing},
             {"dtype", image.original_dtype},
             {"preprocessed", false}};
  r.stage_ms["read"] = ms_since(stage);

  stage = Clock::now();
  const Json sidecar = read_sidecar_json(info);
  const auto config = nn::config_from_sidecar(sidecar, info.sidecar_path.string());
  const auto label_config = nn::label_config_from_sidecar(sidecar, info.sidecar_path.string());
  nn::PreprocessedCase pre;
  try {
    pre = nn::preprocess(image, config);
  } catch (const InputError& e) {
    throw InputError(input.files.front().string(), e.what());
  }
  r.stage_ms["preprocess"] = ms_since(stage);

  const auto logits = predict_or_name(models, pre.data, pre.shape, options, r.timings, input.files.front().string());
  r.logits = logits;
  r.logits_spatial = Shape(pre.shape.begin() + 1, pre.shape.end());
  const std::int64_t classes = info.output_channels;

  stage = Clock::now();
  r.confidence = mean_max_probability(logits, classes);
  auto exported = nn::export_prediction(logits, with_classes(classes, r.logits_spatial), pre.record, config, label_config,
                                        options.save_probabilities);
  r.stage_ms["export"] = ms_since(stage);
  r.spatial = image.spatial_shape();
  if (static_cast<std::int64_t>(exported.labels.size()) != shape_numel(r.spatial))
    throw InputError(input.name, "exported label map does not match the image size");
  r.labels = std::move(exported.labels);
  r.probabilities = std::move(exported.probabilities);
  r.spacing = image.spacing;
  if (r.spatial.size() == 2)
    r.overlay_image = std::span<const float>(image.data).subspan(0, static_cast<std::size_t>(shape_numel(r.spatial)));
  const std::string ending = imaging::file_ending(input.files.front());
  return write_case(
      models, input.name, r, options, case_start,
      [&](const fs::path& p) {
        imaging::LabelImage label_image(r.spatial, image.spacing);
        label_image.labels = r.labels;
        imaging::write_label_map(p, label_image, image);
      },
      ending);
}

}  // namespace

std::string case_name_for(const fs::path& input) {
  std::string name = input.filename().string();
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* suffix : {".npy", ".nii.gz", ".nii", ".mha", ".mhd", ".png", ".jpg", ".jpeg", ".bmp", ".tiff", ".tif"})
    if (lower.size() > std::string(suffix).size() && lower.ends_with(suffix)) {
      name.resize(name.size() - std::string(suffix).size());
      break;
    }
  return name;
}

fs::path summary_path(const fs::path& output_dir, const std::string& case_name) {
  return output_dir / (case_name + ".json");
}

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
        for (const auto& f : found) cases.push_back({case_name_for(f), {f}});
      } else {
        for (auto& c : imaging::group_cases(in, file_ending)) cases.push_back({c.identifier, c.channel_files});
      }
    } else if (fs::is_regular_file(in, ec)) {
      cases.push_back({case_name_for(in), {in}});
    } else {
      throw InputError(in.string(), "no such file or folder");
    }
  }
  if (cases.empty())
    throw UsageError(preprocessed ? "no input cases found (folders are searched for *.npy files)"
                                  : "no input cases found (folders are searched for <case>_XXXX" + file_ending + " files)");
  std::map<std::string, fs::path> seen;
  for (const auto& c : cases) {
    auto [it, inserted] = seen.emplace(c.name, c.files.front());
    if (!inserted)
      throw UsageError("inputs " + it->second.string() + " and " + c.files.front().string() + " would both write case '" +
                       it->first + "'");
  }
  return cases;
}

CaseOutputs segment_case(std::span<const LoadedModel> models, const CaseInput& input, const CaseOptions& options) {
  if (models.empty()) throw UsageError("segment_case: no model given");
  return options.preprocessed ? run_preprocessed(models, input, options) : run_raw(models, input, options);
}

}  // namespace medport::segment
