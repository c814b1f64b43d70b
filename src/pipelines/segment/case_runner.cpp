#include "medport/pipelines/segment/case_runner.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
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

Tensor f32_tensor(Shape shape, std::vector<float> values) {
  const auto* p = reinterpret_cast<const std::byte*>(values.data());
  std::vector<std::byte> bytes(p, p + values.size() * sizeof(float));
  return Tensor(std::make_shared<const Storage>(DType::F32, std::move(bytes)), 0, shape, contiguous_strides(shape));
}

Tensor u8_tensor(Shape shape, const std::vector<std::uint8_t>& values) {
  const auto* p = reinterpret_cast<const std::byte*>(values.data());
  std::vector<std::byte> bytes(p, p + values.size());
  return Tensor(std::make_shared<const Storage>(DType::U8, std::move(bytes)), 0, shape, contiguous_strides(shape));
}

Json label_json(const LabelCount& c, std::size_t spatial_rank) {
  Json j{{"name", c.name}, {"value", c.value}, {spatial_rank == 2 ? "pixels" : "voxels", c.voxels}};
  if (c.physical >= 0) j[spatial_rank == 2 ? "area_mm2" : "volume_ml"] = c.physical;
  return j;
}

}  // namespace

std::string case_name_for(const fs::path& input) {
  std::string name = input.filename().string();
  for (const char* suffix : {".npy", ".npz", ".nii.gz", ".nii", ".png"})
    if (name.size() > std::string(suffix).size() && name.ends_with(suffix)) {
      name.resize(name.size() - std::string(suffix).size());
      break;
    }
  return name;
}

fs::path summary_path(const fs::path& output_dir, const std::string& case_name) {
  return output_dir / (case_name + ".json");
}

std::vector<fs::path> collect_case_inputs(std::span<const fs::path> inputs) {
  std::vector<fs::path> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::directory_iterator(in))
        if (entry.is_regular_file() && entry.path().extension() == ".npy") found.push_back(entry.path());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(in, ec)) {
      files.push_back(in);
    } else {
      throw InputError(in.string(), "no such file or folder");
    }
  }
  if (files.empty()) throw UsageError("no input cases found (folders are searched for *.npy files)");
  std::map<std::string, fs::path> seen;
  for (const auto& f : files) {
    auto [it, inserted] = seen.emplace(case_name_for(f), f);
    if (!inserted)
      throw UsageError("inputs " + it->second.string() + " and " + f.string() + " would both write case '" +
                       it->first + "'");
  }
  return files;
}

CaseOutputs segment_preprocessed_case(std::span<const LoadedModel> models, const fs::path& input,
                                      const CaseOptions& options) {
  const auto case_start = Clock::now();
  CaseOutputs result;
  result.case_name = case_name_for(input);
  const ModelInfo& info = models.front().info;

  auto stage = Clock::now();
  const auto input_bytes = read_file(input);
  const std::string input_sha = sha256_hex(input_bytes);
  const Tensor array = ckpt::read_npy(input_bytes, input.string());
  if (!dtype_is_floating(array.dtype()) && array.dtype() != DType::U8 && array.dtype() != DType::I16 &&
      array.dtype() != DType::I32)
    throw InputError(input.string(), "expected a float or integer image array, got " + std::string(dtype_name(array.dtype())));
  Shape shape = array.shape();
  // A 2D/3D array without a channel axis is accepted for single-channel models.
  if (info.input_channels == 1 && shape.size() == static_cast<std::size_t>(info.spatial_dims))
    shape.insert(shape.begin(), 1);
  std::vector<float> converted;
  std::span<const float> image;
  if (array.dtype() == DType::F32 && array.is_contiguous()) {
    image = {array.data<float>(), static_cast<std::size_t>(array.numel())};
  } else {
    converted = array.to_f32();
    image = converted;
  }
  const double read_ms = ms_since(stage);

  Timings timings;
  std::vector<float> logits;
  try {
    logits = predict_logits(models, image, shape, options.predictor, &timings);
  } catch (const InputError& e) {
    throw InputError(input.string(), e.what());
  }
  const Shape spatial(shape.begin() + 1, shape.end());
  const std::int64_t classes = info.output_channels;

  stage = Clock::now();
  const auto labels = argmax_labels(logits, classes);
  const double confidence = mean_max_probability(logits, classes);
  const double argmax_ms = ms_since(stage);

  // Preprocessed input is at the model's target spacing; a 2D model run slice-wise has no
  // known through-plane spacing.
  std::vector<double> spacing;
  if (info.spacing.size() == spatial.size()) spacing = info.spacing;
  const auto counts = count_labels(labels, info, spacing);

  stage = Clock::now();
  const fs::path& out = options.output_dir;
  const std::string& name = result.case_name;
  Json outputs = Json::object();
  auto note = [&](const char* key, const fs::path& path) {
    result.files.push_back(path);
    outputs[key] = path.filename().string();
  };
  const fs::path seg_path = out / (name + "_seg.npy");
  ckpt::write_npy_file(seg_path, u8_tensor(spatial, labels));
  note("segmentation", seg_path);
  if (options.save_probabilities) {
    Shape pshape{classes};
    pshape.insert(pshape.end(), spatial.begin(), spatial.end());
    const fs::path p = out / (name + "_probabilities.npz");
    ckpt::write_npz(p, {{"probabilities", f32_tensor(pshape, softmax_probabilities(logits, classes))}});
    note("probabilities", p);
  }
  if (options.save_logits) {
    Shape lshape{classes};
    lshape.insert(lshape.end(), spatial.begin(), spatial.end());
    const fs::path p = out / (name + "_logits.npz");
    ckpt::write_npz(p, {{"logits", f32_tensor(lshape, std::move(logits))}});
    note("logits", p);
  }
  if (options.overlay && spatial.size() == 2) {
    std::vector<std::string> names(static_cast<std::size_t>(classes));
    for (const auto& c : counts) names[static_cast<std::size_t>(c.value)] = c.name;
    const auto png = render_overlay_png(image.subspan(0, static_cast<std::size_t>(spatial[0] * spatial[1])), labels,
                                        spatial[0], spatial[1], names, options.overlay_options);
    const fs::path p = out / (name + "_overlay.png");
    write_file_atomic(p, png);
    note("overlay", p);
  }
  const double write_ms = ms_since(stage);

  Json model_list = Json::array();
  for (const auto& m : models)
    model_list.push_back({{"onnx", fs::absolute(m.info.onnx_path).string()},
                          {"onnx_sha256", m.onnx_sha256},
                          {"sidecar", fs::absolute(m.info.sidecar_path).string()},
                          {"checkpoint_sha256", m.info.checkpoint_sha256},
                          {"configuration", m.info.configuration}});
  Json label_list = Json::array();
  for (const auto& c : counts) label_list.push_back(label_json(c, spatial.size()));
  const auto& p = options.predictor;
  Json summary{
      {"case", name},
      {"medport_version", std::string(kVersion)},
      {"input",
       {{"path", fs::absolute(input).string()},
        {"sha256", input_sha},
        {"shape", array.shape()},
        {"dtype", std::string(dtype_name(array.dtype()))},
        {"preprocessed", true}}},
      {"models", model_list},
      {"settings",
       {{"mirroring", p.mirror && !info.allowed_mirroring_axes.empty()},
        {"mirror_axes", p.mirror ? info.allowed_mirroring_axes : std::vector<int>{}},
        {"tile_step_size", p.tile_step_size.value_or(info.tile_step_size)},
        {"patch_size", info.patch_size},
        {"gaussian_precision", p.gaussian_precision == imaging::GaussianPrecision::Float32 ? "float32" : "float16"},
        {"tile_batch", p.tile_batch},
        {"workers", p.workers}}},
      {"shape", spatial},
      {"spacing_mm", spacing.empty() ? Json(nullptr) : Json(spacing)},
      {"labels", label_list},
      {"confidence", {{"mean_max_probability", confidence}}},
      {"tiles", timings.tiles},
      {"network_inputs", timings.network_inputs},
      {"run_calls", timings.run_calls},
      {"timings_ms",
       {{"read", read_ms},
        {"pad", timings.pad_ms},
        {"network", timings.network_ms},
        {"accumulate", timings.accumulate_ms},
        {"predict", timings.total_ms},
        {"argmax_confidence", argmax_ms},
        {"write", write_ms}}},
      {"outputs", outputs}};
  summary["timings_ms"]["total"] = ms_since(case_start);
  const fs::path summary_file = summary_path(out, name);
  write_file_atomic(summary_file, summary.dump(2) + "\n");
  result.files.push_back(summary_file);
  result.seconds = ms_since(case_start) / 1000.0;
  return result;
}

}  // namespace medport::segment
