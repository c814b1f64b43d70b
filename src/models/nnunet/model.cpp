#include "medport/models/nnunet/model.hpp"

#include <memory>

#include <algorithm>
#include "medport/checkpoint/value_json.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::models::nnunet {
namespace {

namespace fs = std::filesystem;

Json read_json_file(const fs::path& path) {
  const auto bytes = read_file(path, std::size_t{256} << 20);
  try {
    return Json::parse(reinterpret_cast<const char*>(bytes.data()), reinterpret_cast<const char*>(bytes.data()) + bytes.size());
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string(), std::string("invalid JSON: ") + e.what());
  }
}

std::optional<std::int64_t> optional_int(const ckpt::Value& dict, const char* key) {
  auto v = dict.get(key);
  if (!v || v->is_none()) return std::nullopt;
  if (v->is(ckpt::ValueKind::Int) || v->is(ckpt::ValueKind::Bool) || v->is(ckpt::ValueKind::NumpyScalar))
    return v->as_int();
  return std::nullopt;
}

std::string optional_str(const ckpt::Value& dict, const char* key) {
  auto v = dict.get(key);
  return v && v->is(ckpt::ValueKind::Str) ? v->as_str() : std::string();
}

bool is_tensor_dict(const ckpt::Value& v) {
  if (!v.is(ckpt::ValueKind::Dict) || v.size() == 0) return false;
  for (const auto& [_, value] : v.dict_data().entries)
    if (!value->is(ckpt::ValueKind::Tensor)) return false;
  return true;
}

// Every entry of network_weights must be a tensor (a state dict); the WeightSource lists only those.
void check_state_dict(const ckpt::Value& weights, const std::string& source) {
  if (!weights.is(ckpt::ValueKind::Dict)) throw InputError(source, "network_weights is a " + weights.type_name() + ", not a dict");
  for (const auto& [key, value] : weights.dict_data().entries)
    if (!value->is(ckpt::ValueKind::Tensor))
      throw InputError(source, "network_weights entry '" + ckpt::key_to_path_part(*key) + "' is a " + value->type_name() +
                                   ", not a tensor");
}

// A metadata string of a safetensors file parsed as JSON (nullptr-JSON when absent).
Json metadata_json(const ckpt::Value& meta, const char* key, const std::string& source) {
  auto v = meta.get(key);
  if (!v || !v->is(ckpt::ValueKind::Str)) return Json(nullptr);
  try {
    return Json::parse(v->as_str());
  } catch (const nlohmann::json::exception&) {
    throw InputError(source, std::string("safetensors metadata '") + key + "' is not valid JSON");
  }
}

std::string configuration_from_folder_name(const fs::path& model_folder) {
  const std::string name = model_folder.filename().string();
  const auto pos = name.rfind("__");
  return pos == std::string::npos ? std::string() : name.substr(pos + 2);
}

}  // namespace

Model load_model(const LocatedSource& location) {
  return load_model(location, ckpt::WeightSource::open(location.checkpoint));
}

Model load_model(const LocatedSource& location, const ckpt::WeightSource& file) {
  Model m;
  m.location = location;
  const std::string source = location.checkpoint.string();
  m.checkpoint_sha256 = file.sha256();
  const ckpt::ValuePtr root_ptr = file.metadata();
  const ckpt::Value& root = *root_ptr;

  ckpt::ValuePtr init_args;
  Json embedded_plans, embedded_dataset;
  if (file.format() == "safetensors") {
    const bool nested = std::any_of(file.index().begin(), file.index().end(),
                                    [](const auto& w) { return w.name.rfind("network_weights.", 0) == 0; });
    m.network = file.within(nested ? "network_weights" : "");
    m.trainer_name = optional_str(root, "trainer_name");
    const Json axes = metadata_json(root, "inference_allowed_mirroring_axes", source);
    if (axes.is_array()) m.mirroring_axes = axes.get<std::vector<std::int64_t>>();
    embedded_plans = metadata_json(root, "plans", source);
    embedded_dataset = metadata_json(root, "dataset_json", source);
    const Json fold = metadata_json(root, "fold", source);
    if (fold.is_number_integer()) m.fold = fold.get<std::int64_t>();
    m.configuration = optional_str(root, "configuration");
  } else if (root.is(ckpt::ValueKind::Dict) && root.contains("network_weights")) {
    check_state_dict(*root.get("network_weights"), source);
    m.network = file.within("network_weights");
    init_args = root.get("init_args");
    if (init_args && !init_args->is(ckpt::ValueKind::Dict)) init_args = nullptr;
    m.trainer_name = optional_str(root, "trainer_name");
    m.current_epoch = optional_int(root, "current_epoch");
    if (auto axes = root.get("inference_allowed_mirroring_axes"); axes && !axes->is_none()) {
      std::vector<std::int64_t> list;
      if (axes->is(ckpt::ValueKind::Tuple) || axes->is(ckpt::ValueKind::List))
        for (const auto& a : axes->items()) list.push_back(a->as_int());
      m.mirroring_axes = list;
    }
  } else if (is_tensor_dict(root) && !location.model_folder.empty()) {
    m.network = file.within("");  // a bare state dict next to plans.json
  } else {
    throw InputError(source, "not an nnU-Net v2 trainer checkpoint (no 'network_weights' entry)");
  }

  if (!location.model_folder.empty()) {
    m.plans = read_json_file(location.model_folder / "plans.json");
    m.dataset_json = read_json_file(location.model_folder / "dataset.json");
    m.plans_origin = "plans.json";
  } else if (embedded_plans.is_object() && embedded_dataset.is_object()) {
    m.plans = embedded_plans;
    m.dataset_json = embedded_dataset;
    m.plans_origin = "checkpoint metadata";
  } else if (init_args && init_args->contains("plans") && init_args->contains("dataset_json")) {
    m.plans = ckpt::value_to_json(*init_args->get("plans"));
    m.dataset_json = ckpt::value_to_json(*init_args->get("dataset_json"));
    m.plans_origin = "checkpoint init_args";
  } else {
    throw InputError(source, "no plans.json/dataset.json beside the checkpoint and no init_args.plans inside it");
  }
  if (!m.plans.is_object()) throw InputError(source, "plans are not a JSON object");
  if (!m.dataset_json.is_object()) throw InputError(source, "dataset.json is not a JSON object");

  if (init_args) {
    m.configuration = optional_str(*init_args, "configuration");
    m.fold = optional_int(*init_args, "fold");
  }
  if (m.configuration.empty() && !location.model_folder.empty())
    m.configuration = configuration_from_folder_name(location.model_folder);
  if (m.configuration.empty() && m.plans.contains("configurations") && m.plans["configurations"].size() == 1)
    m.configuration = m.plans["configurations"].begin().key();
  if (m.configuration.empty()) throw InputError(source, "cannot tell which plans configuration this checkpoint uses");
  if (location.fold) m.fold = *location.fold;

  const std::string plans_source =
      m.plans_origin == "plans.json" ? (location.model_folder / "plans.json").string() : source + " (" + m.plans_origin + ")";
  m.resolved_configuration = resolve_configuration(m.plans, m.configuration, plans_source);
  m.architecture = architecture_from_plans(m.plans, m.dataset_json, m.configuration, plans_source);
  return m;
}

}  // namespace medport::models::nnunet
