#include "medport/pipelines/segment/model_info.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"
#include "medport/util/file_io.hpp"

namespace medport::segment {
namespace {

using Json = nlohmann::json;

const Json& member(const Json& object, const char* key, const std::string& source) {
  if (!object.is_object() || !object.contains(key)) throw InputError(source, std::string("missing field '") + key + "'");
  return object.at(key);
}

std::vector<std::int64_t> positive_extent(const Json& value, const char* what, const std::string& source) {
  if (!value.is_array() || value.empty()) throw InputError(source, std::string(what) + " must be a non-empty array");
  std::vector<std::int64_t> out;
  for (const auto& v : value) {
    if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 || v.get<std::int64_t>() > (1 << 16))
      throw InputError(source, std::string(what) + " holds a value that is not a positive size");
    out.push_back(v.get<std::int64_t>());
  }
  return out;
}

// nnU-Net's LabelManager._get_regions: every label except 'ignore' and background-only ones, in
// dataset.json order (output channel r is the r-th region, hence the order-keeping parse); a
// plain integer label is a one-value region.
void read_regions(const std::string& json_text, const Json& labels, ModelInfo& info, const std::string& source) {
  const auto ordered = nlohmann::ordered_json::parse(json_text);
  const auto& label_map = ordered.at("labels").at("labels");
  if (!label_map.is_object()) throw InputError(source, "a region-based model needs labels.labels");
  for (const auto& [name, value] : label_map.items()) {
    if (name == "ignore") continue;
    RegionInfo region{name, {}};
    if (value.is_array()) {
      for (const auto& v : value) region.members.push_back(v.get<int>());
    } else {
      region.members.push_back(value.get<int>());
    }
    const bool background_only = std::all_of(region.members.begin(), region.members.end(), [](int v) { return v == 0; });
    if (!region.members.empty() && !background_only) info.regions.push_back(std::move(region));
  }
  const Json& order = member(labels, "regions_class_order", source);
  if (!order.is_array()) throw InputError(source, "labels.regions_class_order must be a list for a region-based model");
  for (const auto& v : order) {
    const int value = v.get<int>();
    if (value < 0 || value > 255)
      throw InputError(source, "labels.regions_class_order value " + std::to_string(value) +
                                   " does not fit the uint8 label map");
    info.regions_class_order.push_back(value);
  }
}

}  // namespace

std::filesystem::path sidecar_for(const std::filesystem::path& onnx_path) { return models::sidecar_path_for(onnx_path); }

ModelInfo parse_model_info(const std::string& json_text, const std::string& source) {
  nlohmann::ordered_json ordered;
  try {
    ordered = nlohmann::ordered_json::parse(json_text);
  } catch (const Json::exception& e) {
    throw InputError(source, std::string("not valid JSON: ") + e.what());
  }
  const models::Sidecar sidecar = models::Sidecar::from_json(ordered, source);
  if (sidecar.family != "nnunet")
    throw InputError(source, "the segment pipeline runs nnU-Net v2 models; this sidecar is for '" + sidecar.family + "'");
  const std::string section_text = sidecar.family_section.dump();
  const Json doc = Json::parse(section_text);  // the "nnunet" section
  ModelInfo info;
  try {
    const Json& model = member(doc, "model", source);
    const Json& pre = member(doc, "preprocessing", source);
    const Json& labels = member(doc, "labels", source);
    info.input_name = model.value("input_name", info.input_name);
    if (model.contains("output_names") && model["output_names"].is_array() && !model["output_names"].empty())
      info.output_name = model["output_names"][0].get<std::string>();
    info.input_channels = member(model, "input_channels", source).get<std::int64_t>();
    info.output_channels = member(model, "output_channels", source).get<std::int64_t>();
    info.spatial_dims = member(model, "spatial_dims", source).get<int>();
    info.patch_size = positive_extent(member(pre, "patch_size", source), "preprocessing.patch_size", source);
    if (model.contains("stride_product"))
      info.stride_product = positive_extent(model["stride_product"], "model.stride_product", source);
    if (pre.contains("spacing") && pre["spacing"].is_array())
      for (const auto& s : pre["spacing"]) info.spacing.push_back(s.get<double>());
    if (doc.contains("inference") && doc["inference"].is_object()) {
      const Json& inf = doc["inference"];
      if (inf.contains("allowed_mirroring_axes") && inf["allowed_mirroring_axes"].is_array())
        for (const auto& a : inf["allowed_mirroring_axes"]) info.allowed_mirroring_axes.push_back(a.get<int>());
      info.tile_step_size = inf.value("tile_step_size", info.tile_step_size);
      info.use_gaussian = inf.value("use_gaussian", info.use_gaussian);
      info.gaussian_sigma_scale = inf.value("gaussian_sigma_scale", info.gaussian_sigma_scale);
    }
    info.has_regions = labels.value("has_regions", false);
    if (doc.contains("file_ending") && doc["file_ending"].is_string()) info.file_ending = doc["file_ending"];
    if (labels.contains("labels") && labels["labels"].is_object())
      for (const auto& [name, value] : labels["labels"].items())
        if (value.is_number_integer() && name != "ignore") info.labels.push_back({name, value.get<int>()});
    if (info.has_regions) read_regions(section_text, labels, info, source);
    if (doc.contains("source") && doc["source"].is_object()) {
      const Json& src = doc["source"];
      if (src.contains("configuration") && src["configuration"].is_string()) info.configuration = src["configuration"];
      if (src.contains("checkpoint_sha256") && src["checkpoint_sha256"].is_string())
        info.checkpoint_sha256 = src["checkpoint_sha256"];
    }
  } catch (const Json::exception& e) {
    throw InputError(source, std::string("malformed field: ") + e.what());
  }
  if (info.spatial_dims != 2 && info.spatial_dims != 3) throw InputError(source, "model.spatial_dims must be 2 or 3");
  if (info.patch_size.size() != static_cast<std::size_t>(info.spatial_dims))
    throw InputError(source, "preprocessing.patch_size does not have model.spatial_dims entries");
  if (info.input_channels <= 0 || info.input_channels > 4096 || info.output_channels <= 0 || info.output_channels > 4096)
    throw InputError(source, "model.input_channels / output_channels out of range");
  for (int axis : info.allowed_mirroring_axes)
    if (axis < 0 || axis >= info.spatial_dims) throw InputError(source, "inference.allowed_mirroring_axes out of range");
  if (!(info.tile_step_size > 0.0 && info.tile_step_size <= 1.0))
    throw InputError(source, "inference.tile_step_size must be in (0, 1]");
  if (!info.spacing.empty() && info.spacing.size() != static_cast<std::size_t>(info.spatial_dims)) info.spacing.clear();
  if (info.has_regions && (info.regions.size() != static_cast<std::size_t>(info.output_channels) ||
                           info.regions_class_order.size() != info.regions.size()))
    throw InputError(source, "region-based model: " + std::to_string(info.output_channels) + " outputs, " +
                                 std::to_string(info.regions.size()) + " regions and " +
                                 std::to_string(info.regions_class_order.size()) +
                                 " regions_class_order entries must agree");
  return info;
}

ModelInfo load_model_info(const std::filesystem::path& onnx_path) {
  const auto sidecar = sidecar_for(onnx_path);
  if (!std::filesystem::exists(sidecar))
    throw InputError(sidecar.string(), "sidecar not found (convert the model with `medport convert`, which writes it)");
  const auto bytes = read_file(sidecar, std::size_t{64} << 20);
  ModelInfo info = parse_model_info(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), sidecar.string());
  info.onnx_path = onnx_path;
  info.sidecar_path = sidecar;
  return info;
}

}  // namespace medport::segment
