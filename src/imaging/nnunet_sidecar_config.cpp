// PreprocessingConfig / LabelConfig from the converter's sidecar (docs/NNUNET.md).
#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"

namespace medport::imaging::nnunet {
namespace {

using Json = nlohmann::json;

const Json& field(const Json& object, const char* key, const std::string& source, const std::string& where) {
  if (!object.is_object() || !object.contains(key))
    throw InputError(source, where + " has no '" + key + "'");
  return object[key];
}

double number(const Json& value, const std::string& source, const std::string& what) {
  if (!value.is_number()) throw InputError(source, what + " must be a number");
  return value.get<double>();
}

std::vector<int> permutation(const Json& value, const std::string& source, const char* name) {
  if (value.is_null()) return {0, 1, 2};
  if (!value.is_array() || value.size() != 3) throw InputError(source, std::string(name) + " must list 3 axes");
  std::vector<int> out;
  for (const auto& v : value) {
    if (!v.is_number_integer()) throw InputError(source, std::string(name) + " must hold integers");
    out.push_back(v.get<int>());
  }
  return out;
}

ResamplingOptions resampling(const Json& pre, const std::string& kind, ResamplingOptions defaults,
                             const std::string& source) {
  const std::string fn_key = "resampling_fn_" + kind;
  if (pre.contains(fn_key) && !pre[fn_key].is_null() && pre[fn_key] != "resample_data_or_seg_to_shape")
    throw InputError(source, fn_key + " '" + pre[fn_key].dump() +
                                 "' is not supported (only resample_data_or_seg_to_shape)");
  const std::string kw_key = fn_key + "_kwargs";
  if (!pre.contains(kw_key) || pre[kw_key].is_null()) return defaults;
  const Json& kw = pre[kw_key];
  if (!kw.is_object()) throw InputError(source, kw_key + " must be an object");
  if (kw.contains("is_seg") && kw["is_seg"].is_boolean()) defaults.is_seg = kw["is_seg"].get<bool>();
  if (kw.contains("order")) defaults.order = static_cast<int>(number(kw["order"], source, kw_key + ".order"));
  if (kw.contains("order_z")) defaults.order_z = static_cast<int>(number(kw["order_z"], source, kw_key + ".order_z"));
  if (kw.contains("force_separate_z")) {
    const Json& f = kw["force_separate_z"];
    if (f.is_null()) defaults.force_separate_z.reset();
    else if (f.is_boolean()) defaults.force_separate_z = f.get<bool>();
    else throw InputError(source, kw_key + ".force_separate_z must be true, false or null");
  }
  for (int order : {defaults.order, defaults.order_z})
    if (order != 0 && order != 1 && order != 3)
      throw InputError(source, kw_key + ": spline order " + std::to_string(order) + " is not supported (0, 1 or 3)");
  return defaults;
}

}  // namespace

PreprocessingConfig config_from_sidecar(const Json& sidecar, const std::string& source) {
  PreprocessingConfig config;
  const Json& norms = field(sidecar, "normalization", source, "the sidecar");
  if (!norms.is_array() || norms.empty()) throw InputError(source, "normalization must be a non-empty list");
  for (const auto& entry : norms) {
    ChannelNormalization n;
    const Json& scheme = field(entry, "scheme", source, "a normalization entry");
    if (!scheme.is_string()) throw InputError(source, "normalization scheme must be a string");
    n.scheme = normalization_scheme_from_name(scheme.get<std::string>());
    if (entry.contains("use_mask_for_norm") && entry["use_mask_for_norm"].is_boolean())
      n.use_mask_for_norm = entry["use_mask_for_norm"].get<bool>();
    if (entry.contains("intensity_properties") && entry["intensity_properties"].is_object()) {
      const Json& p = entry["intensity_properties"];
      IntensityProperties props;
      props.mean = number(field(p, "mean", source, "intensity_properties"), source, "mean");
      props.std = number(field(p, "std", source, "intensity_properties"), source, "std");
      props.percentile_00_5 = number(field(p, "percentile_00_5", source, "intensity_properties"), source, "percentile");
      props.percentile_99_5 = number(field(p, "percentile_99_5", source, "intensity_properties"), source, "percentile");
      n.intensity = props;
    }
    if (n.scheme == NormalizationScheme::CT && !n.intensity)
      throw InputError(source, "CTNormalization needs intensity_properties");
    config.normalization.push_back(n);
  }
  const Json& pre = field(sidecar, "preprocessing", source, "the sidecar");
  const Json& spacing = field(pre, "spacing", source, "preprocessing");
  if (!spacing.is_array() || (spacing.size() != 2 && spacing.size() != 3))
    throw InputError(source, "preprocessing.spacing must list 2 or 3 values");
  for (const auto& s : spacing) {
    const double v = number(s, source, "preprocessing.spacing");
    if (!(v > 0)) throw InputError(source, "preprocessing.spacing values must be > 0");
    config.target_spacing.push_back(v);
  }
  config.transpose_forward = permutation(pre.value("transpose_forward", Json()), source, "transpose_forward");
  config.transpose_backward = permutation(pre.value("transpose_backward", Json()), source, "transpose_backward");
  config.data_resampling = resampling(pre, "data", data_resampling_defaults(), source);
  config.seg_resampling = resampling(pre, "seg", seg_resampling_defaults(), source);
  config.probabilities_resampling = resampling(pre, "probabilities", probabilities_resampling_defaults(), source);
  return config;
}

LabelConfig label_config_from_sidecar(const Json& sidecar, const std::string& source) {
  LabelConfig config;
  const Json& labels = field(sidecar, "labels", source, "the sidecar");
  config.has_regions = labels.value("has_regions", false);
  if (config.has_regions) {
    const Json& order = field(labels, "regions_class_order", source, "labels");
    if (!order.is_array()) throw InputError(source, "labels.regions_class_order must be a list");
    for (const auto& v : order) {
      if (!v.is_number_integer()) throw InputError(source, "labels.regions_class_order must hold integers");
      config.regions_class_order.push_back(v.get<int>());
    }
  }
  return config;
}

}  // namespace medport::imaging::nnunet
