#include "medport/models/nnunet/sidecar.hpp"

#include "medport/error.hpp"
#include "medport/models/nnunet/graph.hpp"

namespace medport::models::nnunet {
namespace {

Json value_or_null(const Json& object, const char* key) {
  return object.is_object() && object.contains(key) ? object[key] : Json(nullptr);
}

Json dynamic_axes(const Architecture& arch, const std::vector<std::string>& outputs) {
  Json axes = Json::object();
  auto spatial = [&](const std::string& tag) {
    Json a = Json::object();
    a["0"] = "batch";
    for (int d = 0; d < arch.dim; ++d) a[std::to_string(d + 2)] = tag + "spatial" + std::to_string(d);
    return a;
  };
  axes[kInputName] = spatial("");
  for (std::size_t j = 0; j < outputs.size(); ++j) axes[outputs[j]] = spatial(j == 0 ? "" : "ds" + std::to_string(j) + "_");
  return axes;
}

// Per input channel: the normalization nnU-Net's preprocessor applies and the statistics it uses.
Json normalization(const Model& m) {
  const Json& cfg = m.resolved_configuration;
  const Json schemes = value_or_null(cfg, "normalization_schemes");
  const Json masks = value_or_null(cfg, "use_mask_for_norm");
  const Json props = value_or_null(m.plans, "foreground_intensity_properties_per_channel");
  const Json channels = m.dataset_json.contains("channel_names") ? m.dataset_json["channel_names"]
                                                                 : value_or_null(m.dataset_json, "modality");
  Json out = Json::array();
  std::size_t c = 0;
  if (channels.is_object()) {
    for (const auto& [key, name] : channels.items()) {
      Json entry = Json::object();
      entry["channel"] = c;
      entry["name"] = name;
      entry["scheme"] = schemes.is_array() && c < schemes.size() ? schemes[c] : Json(nullptr);
      entry["use_mask_for_norm"] = masks.is_array() && c < masks.size() ? masks[c] : Json(false);
      entry["intensity_properties"] = props.is_object() && props.contains(key) ? props[key] : Json(nullptr);
      out.push_back(entry);
      ++c;
    }
  }
  return out;
}

Json labels_section(const Model& m) {
  const LabelInfo info = label_info(m.dataset_json, "dataset.json");
  Json out = Json::object();
  out["labels"] = m.dataset_json["labels"];
  out["all_labels"] = info.all_labels;
  out["has_regions"] = info.has_regions;
  out["regions_class_order"] = value_or_null(m.dataset_json, "regions_class_order");
  out["ignore_label"] = m.dataset_json["labels"].contains("ignore") ? m.dataset_json["labels"]["ignore"] : Json(nullptr);
  out["num_segmentation_heads"] = info.num_heads;
  out["inference_nonlinearity"] = info.has_regions ? "sigmoid" : "softmax";
  return out;
}

}  // namespace

Json make_sidecar(const Model& m, const SidecarOptions& options) {
  const Architecture& a = m.architecture;
  const Json& cfg = m.resolved_configuration;
  Json s = Json::object();
  s["network_class_name"] = a.network_class_name;

  Json model = Json::object();
  model["input_name"] = kInputName;
  model["output_names"] = options.output_names;
  model["input_channels"] = a.input_channels;
  model["output_channels"] = a.num_classes;
  model["spatial_dims"] = a.dim;
  model["stride_product"] = a.stride_product();
  model["dynamic_axes"] = dynamic_axes(a, options.output_names);
  model["deep_supervision"] = options.deep_supervision;
  model["fp16"] = options.fp16;
  model["io_dtype"] = "float32";
  model["opset"] = options.opset;
  model["n_stages"] = a.n_stages;
  model["features_per_stage"] = a.features_per_stage;
  s["model"] = model;

  s["labels"] = labels_section(m);
  s["channel_names"] = m.dataset_json.contains("channel_names") ? m.dataset_json["channel_names"]
                                                                : value_or_null(m.dataset_json, "modality");
  s["file_ending"] = value_or_null(m.dataset_json, "file_ending");
  s["normalization"] = normalization(m);

  Json pre = Json::object();
  pre["spacing"] = value_or_null(cfg, "spacing");
  pre["patch_size"] = value_or_null(cfg, "patch_size");
  pre["transpose_forward"] = value_or_null(m.plans, "transpose_forward");
  pre["transpose_backward"] = value_or_null(m.plans, "transpose_backward");
  pre["preprocessor_name"] = value_or_null(cfg, "preprocessor_name");
  pre["resampling_fn_data"] = value_or_null(cfg, "resampling_fn_data");
  pre["resampling_fn_data_kwargs"] = value_or_null(cfg, "resampling_fn_data_kwargs");
  pre["resampling_fn_seg"] = value_or_null(cfg, "resampling_fn_seg");
  pre["resampling_fn_seg_kwargs"] = value_or_null(cfg, "resampling_fn_seg_kwargs");
  pre["resampling_fn_probabilities"] = value_or_null(cfg, "resampling_fn_probabilities");
  pre["resampling_fn_probabilities_kwargs"] = value_or_null(cfg, "resampling_fn_probabilities_kwargs");
  pre["previous_stage"] = value_or_null(cfg, "previous_stage");
  pre["image_reader_writer"] = value_or_null(m.plans, "image_reader_writer");
  s["preprocessing"] = pre;

  Json inf = Json::object();
  inf["allowed_mirroring_axes"] = m.mirroring_axes ? Json(*m.mirroring_axes) : Json(nullptr);
  inf["tile_step_size"] = 0.5;  // nnU-Net's predictor defaults
  inf["use_gaussian"] = true;
  inf["gaussian_sigma_scale"] = 0.125;
  s["inference"] = inf;

  Json src = Json::object();
  src["checkpoint"] = std::filesystem::absolute(m.location.checkpoint).lexically_normal().string();
  src["checkpoint_sha256"] = m.checkpoint_sha256;
  src["model_folder"] = m.location.model_folder.empty()
                            ? Json(nullptr)
                            : Json(std::filesystem::absolute(m.location.model_folder).lexically_normal().string());
  src["plans_from"] = m.plans_origin;
  src["trainer_name"] = m.trainer_name;
  src["plans_name"] = value_or_null(m.plans, "plans_name");
  src["dataset_name"] = value_or_null(m.plans, "dataset_name");
  src["configuration"] = m.configuration;
  src["fold"] = m.fold ? Json(*m.fold) : Json(nullptr);
  src["folds"] = m.fold ? Json::array({*m.fold}) : Json::array();
  src["current_epoch"] = m.current_epoch ? Json(*m.current_epoch) : Json(nullptr);
  s["source"] = src;

  s["nnunet_configuration"] = cfg;
  s["foreground_intensity_properties_per_channel"] =
      value_or_null(m.plans, "foreground_intensity_properties_per_channel");
  return s;
}

}  // namespace medport::models::nnunet
