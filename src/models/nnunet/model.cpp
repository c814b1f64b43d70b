#include "medport/models/nnunet/model.hpp"

#include <memory>

#include "medport/checkpoint/torch_checkpoint.hpp"
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

// network_weights (or a bare state dict): tensor entries with "module." stripped.
std::map<std::string, Tensor> state_dict_of(const ckpt::Value& weights, const std::string& source) {
  if (!weights.is(ckpt::ValueKind::Dict)) throw InputError(source, "network_weights is a " + weights.type_name() + ", not a dict");
  std::map<std::string, Tensor> out;
  for (const auto& [key, value] : weights.dict_data().entries) {
    std::string name = ckpt::key_to_path_part(*key);
    if (!value->is(ckpt::ValueKind::Tensor))
      throw InputError(source, "network_weights entry '" + name + "' is a " + value->type_name() + ", not a tensor");
    if (name.rfind("module.", 0) == 0) name = name.substr(7);
    const Tensor& t = value->tensor_data().tensor;
    if (!t.defined()) throw InputError(source, "network_weights entry '" + name + "' has no data");
    if (!out.emplace(name, t).second) throw InputError(source, "duplicate network_weights entry '" + name + "'");
  }
  return out;
}

bool is_tensor_dict(const ckpt::Value& v) {
  if (!v.is(ckpt::ValueKind::Dict) || v.size() == 0) return false;
  for (const auto& [_, value] : v.dict_data().entries)
    if (!value->is(ckpt::ValueKind::Tensor)) return false;
  return true;
}

std::string configuration_from_folder_name(const fs::path& model_folder) {
  const std::string name = model_folder.filename().string();
  const auto pos = name.rfind("__");
  return pos == std::string::npos ? std::string() : name.substr(pos + 2);
}

}  // namespace

Model load_model(const LocatedSource& location) {
  Model m;
  m.location = location;
  const std::string source = location.checkpoint.string();
  const auto file = ckpt::FileBytes::map(location.checkpoint);  // storages are views, read when used
  m.checkpoint_sha256 = file->sha256();
  const ckpt::ValuePtr root_ptr = ckpt::load_torch_checkpoint(file).root;
  const ckpt::Value& root = *root_ptr;

  ckpt::ValuePtr init_args;
  if (root.is(ckpt::ValueKind::Dict) && root.contains("network_weights")) {
    m.state_dict = state_dict_of(*root.get("network_weights"), source);
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
    m.state_dict = state_dict_of(root, source);  // a bare state dict next to plans.json
  } else {
    throw InputError(source, "not an nnU-Net v2 trainer checkpoint (no 'network_weights' entry)");
  }

  if (!location.model_folder.empty()) {
    m.plans = read_json_file(location.model_folder / "plans.json");
    m.dataset_json = read_json_file(location.model_folder / "dataset.json");
    m.plans_origin = "plans.json";
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
      m.plans_origin == "plans.json" ? (location.model_folder / "plans.json").string() : source + " (init_args.plans)";
  m.resolved_configuration = resolve_configuration(m.plans, m.configuration, plans_source);
  m.architecture = architecture_from_plans(m.plans, m.dataset_json, m.configuration, plans_source);
  return m;
}

}  // namespace medport::models::nnunet
