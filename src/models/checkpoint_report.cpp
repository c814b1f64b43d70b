#include "medport/models/checkpoint_report.hpp"

#include <cstring>
#include <span>
#include <unordered_map>

#include "medport/checkpoint/file_bytes.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/safetensors.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/checkpoint/value_json.hpp"
#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"
#include "medport/checkpoint/weight_source.hpp"
#include "medport/models/family.hpp"

namespace medport::models {
namespace {

using json = nlohmann::ordered_json;

// What the report says about one tensor path; read from the structure alone (no tensor data).
struct Entry {
  std::string path;
  DType dtype = DType::F32;
  Shape shape, strides;
  std::int64_t offset = 0;
  bool contiguous = true;
  std::string storage_key;
  std::size_t storage = 0;  // identity of the storage behind the view
  std::int64_t storage_numel = 0;
};

// Appends to an ordered JSON object in constant time (ordered_json finds keys by a linear
// scan, which made a report quadratic in the number of tensors). A key seen before keeps its
// place and takes the new value, as operator[] would.
class ObjectAppender {
 public:
  explicit ObjectAppender(json& object) : object_(object.get_ref<json::object_t&>()) {}
  void set(const std::string& key, json value) {
    const auto [it, inserted] = position_.try_emplace(key, object_.size());
    if (inserted) object_.emplace_back(key, std::move(value));
    else (object_.begin() + static_cast<std::ptrdiff_t>(it->second))->second = std::move(value);
  }

 private:
  json::object_t& object_;
  std::unordered_map<std::string, std::size_t> position_;
};

struct Contents {
  std::string format, format_version, archive_prefix, byteorder = "little";
  json top_level = json::object();
  std::vector<Entry> entries;
  ckpt::ValuePtr root;  // torch formats only
};

bool starts_with(std::span<const std::byte> b, std::string_view magic) {
  return b.size() >= magic.size() && std::memcmp(b.data(), magic.data(), magic.size()) == 0;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool looks_like_safetensors(std::span<const std::byte> b) {
  if (b.size() < 10) return false;
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, b.data(), 8);  // little-endian hosts only, like the rest of medport
  return header_len >= 2 && header_len <= b.size() - 8 && static_cast<char>(b[8]) == '{';
}

// Tensors as entries; storages numbered in order of first appearance.
void add_tensors(Contents& c, std::vector<std::pair<std::string, const Tensor*>> tensors,
                 const std::vector<std::string>& storage_keys) {
  std::unordered_map<const Storage*, std::size_t> ids;
  c.entries.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = *tensors[i].second;
    const auto id = ids.try_emplace(t.storage().get(), ids.size()).first->second;
    c.entries.push_back({std::move(tensors[i].first), t.dtype(), t.shape(), t.strides(), t.offset(), t.is_contiguous(),
                         storage_keys[i], id, t.storage() ? t.storage()->numel() : 0});
  }
}

Contents read_torch(const std::shared_ptr<const ckpt::FileBytes>& file) {
  const auto ck = ckpt::load_torch_checkpoint(file);
  Contents c{ck.format, ck.format_version, ck.archive_prefix, ck.byteorder, json::object(), {}, ck.root};
  if (c.format == "pickle") c.format_version = std::to_string(ck.pickle_protocol);
  if (ck.root && ck.root->is(ckpt::ValueKind::Dict)) {
    ObjectAppender top(c.top_level);
    for (const auto& [k, v] : ck.root->dict_data().entries) top.set(ckpt::key_to_path_part(*k), v ? v->type_name() : "NoneType");
  }
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  std::vector<std::string> keys;
  for (const auto& t : ck.tensors) {
    tensors.emplace_back(t.path, &t.tensor);
    keys.push_back(t.storage_key);
  }
  add_tensors(c, std::move(tensors), keys);
  return c;
}

Contents read_arrays(std::string format, std::string version, const std::vector<std::pair<std::string, ckpt::NpyInfo>>& arrays) {
  Contents c{std::move(format), std::move(version), "", "little", json::object(), {}, nullptr};
  ObjectAppender top(c.top_level);
  for (const auto& [name, info] : arrays) {
    top.set(name, "ndarray");
    // read_npy hands every array out row-major, Fortran-ordered ones included.
    const auto numel = shape_numel(info.shape);
    c.entries.push_back({name, info.dtype, info.shape, contiguous_strides(info.shape), 0, true, name, c.entries.size(), numel});
  }
  return c;
}

Contents read_contents(const std::shared_ptr<const ckpt::FileBytes>& file) {
  const auto bytes = file->bytes();
  const std::string& source = file->source();
  if (starts_with(bytes, "\x93NUMPY"))
    return read_arrays("npy", std::to_string(static_cast<int>(bytes[6])) + ".0", {{"array", ckpt::read_npy_info(bytes, source)}});
  if (ckpt::looks_like_zip(bytes)) {
    ckpt::ZipArchive zip(file);
    bool torch = false, all_npy = !zip.entry_names().empty();
    for (const auto& name : zip.entry_names()) {
      torch = torch || ends_with(name, "data.pkl") || ends_with(name, "constants.pkl");
      all_npy = all_npy && ends_with(name, ".npy");
    }
    if (torch) {
      zip.verify_stored_entries();  // damage in any member, not only in what the report shows
      return read_torch(file);
    }
    if (all_npy) {
      const ckpt::NpzFile npz(std::move(zip));
      std::vector<std::pair<std::string, ckpt::NpyInfo>> arrays;
      for (const auto& name : npz.names()) arrays.emplace_back(name, npz.info(name));
      return read_arrays("npz", "", arrays);
    }
    throw InputError(source, "zip archive that is neither a PyTorch checkpoint (no data.pkl) nor an npz (members other than .npy)");
  }
  if (looks_like_safetensors(bytes)) {
    const auto st = ckpt::read_safetensors(file);
    Contents c{"safetensors", "", "", "little", json::object(), {}, nullptr};
    ObjectAppender top(c.top_level);
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    std::vector<std::string> keys;
    for (const auto& [name, tensor] : st.tensors) {
      top.set(name, "Tensor");
      tensors.emplace_back(name, &tensor);
      keys.push_back(name);
    }
    add_tensors(c, std::move(tensors), keys);
    return c;
  }
  return read_torch(file);
}

json nnunet_facts(const ckpt::Value& root) {
  json out = json::object();
  if (auto v = root.get("trainer_name"); v && v->is(ckpt::ValueKind::Str)) out["trainer"] = v->as_str();
  if (auto v = root.get("current_epoch"); v && v->is(ckpt::ValueKind::Int)) out["epoch"] = v->as_int();
  if (auto v = root.get("inference_allowed_mirroring_axes")) out["mirroring_axes"] = ckpt::value_to_json(*v);
  const auto init = root.get("init_args");
  if (!init || !init->is(ckpt::ValueKind::Dict)) return out;
  std::string configuration;
  if (auto v = init->get("configuration"); v && v->is(ckpt::ValueKind::Str)) out["configuration"] = configuration = v->as_str();
  if (auto v = init->get("fold")) out["fold"] = ckpt::value_to_json(*v);
  if (auto ds = init->get("dataset_json"); ds && ds->is(ckpt::ValueKind::Dict)) {
    if (auto labels = ds->get("labels")) out["labels"] = ckpt::value_to_json(*labels);
    if (auto ch = ds->get("channel_names")) out["channel_names"] = ckpt::value_to_json(*ch);
  }
  const auto plans_v = init->get("plans");
  if (!plans_v || !plans_v->is(ckpt::ValueKind::Dict)) return out;
  const json plans = ckpt::value_to_json(*plans_v);
  json summary = json::object();
  for (const char* key : {"plans_name", "dataset_name"})
    if (plans.contains(key)) summary[key] = plans[key];
  if (plans.contains("configurations") && plans["configurations"].contains(configuration)) {
    const json& conf = plans["configurations"][configuration];
    for (const char* key : {"patch_size", "spacing", "batch_size"})
      if (conf.contains(key)) summary[key] = conf[key];
    if (conf.contains("architecture")) {
      const json& arch = conf["architecture"];
      if (arch.contains("network_class_name")) summary["network_class"] = arch["network_class_name"];
      if (arch.contains("arch_kwargs"))
        for (const char* key : {"n_stages", "features_per_stage", "kernel_sizes", "strides"})
          if (arch["arch_kwargs"].contains(key)) summary[key] = arch["arch_kwargs"][key];
    } else {  // plans written before nnU-Net 2.3 keep these at the configuration level
      if (conf.contains("UNet_class_name")) summary["network_class"] = conf["UNet_class_name"];
      if (conf.contains("conv_kernel_sizes")) summary["kernel_sizes"] = conf["conv_kernel_sizes"];
      if (conf.contains("pool_op_kernel_sizes")) summary["strides"] = conf["pool_op_kernel_sizes"];
    }
  }
  out["plans"] = summary;
  return out;
}

}  // namespace

json build_checkpoint_report(const std::filesystem::path& path) {
  const auto file = ckpt::FileBytes::map(path);
  Contents c = read_contents(file);

  json r;
  r["schema"] = "medport.inspect/1";
  r["file"] = file->source();
  r["size_bytes"] = file->size();
  r["sha256"] = file->sha256();
  r["format"] = c.format;
  r["format_version"] = c.format_version;
  if (!c.archive_prefix.empty()) r["archive_prefix"] = c.archive_prefix;
  r["byteorder"] = c.byteorder;
  r["top_level"] = c.top_level;

  std::vector<ckpt::WeightInfo> infos;
  infos.reserve(c.entries.size());
  std::vector<std::vector<const Entry*>> by_storage;  // storage id -> its entries, in file order
  std::int64_t total = 0, unique = 0;
  json tensors = json::object();
  ObjectAppender tensor_list(tensors);
  for (const auto& e : c.entries) {
    if (e.storage >= by_storage.size()) by_storage.resize(e.storage + 1);
    if (by_storage[e.storage].empty()) unique += e.storage_numel;
    by_storage[e.storage].push_back(&e);
    total += shape_numel(e.shape);
    infos.push_back({e.path, e.dtype, e.shape});
    tensor_list.set(e.path, {{"dtype", dtype_name(e.dtype)},
                             {"shape", e.shape},
                             {"contiguous", e.contiguous},
                             {"storage", e.storage_key},
                             {"storage_offset", e.offset},
                             {"strides", e.strides}});
  }
  // Detection from names and shapes only, through the family table convert uses.
  const auto detected = detect_family(ckpt::WeightSource::index_only(std::move(infos), c.root, path.string()));
  const std::string prefix = detected && !detected->prefix.empty() ? detected->prefix + "." : "";
  std::int64_t params = 0;
  std::vector<bool> counted(by_storage.size(), false);
  for (const auto& e : c.entries)
    if (e.path.rfind(prefix, 0) == 0 && !counted[e.storage]) {
      counted[e.storage] = true;
      params += e.storage_numel;
    }

  r["tensor_count"] = c.entries.size();
  r["storage_count"] = by_storage.size();
  r["total_elements_all_tensors"] = total;
  r["unique_elements"] = unique;
  r["parameter_count"] = detected ? params : unique;
  r["tensors"] = std::move(tensors);
  json aliases = json::array();
  for (const auto& paths : by_storage) {
    if (paths.size() < 2) continue;
    json names = json::array();
    for (const Entry* e : paths) names.push_back(e->path);
    aliases.push_back({{"storage", paths.front()->storage_key}, {"paths", std::move(names)}});
  }
  r["aliases"] = std::move(aliases);
  if (detected)
    r["family"] = {{"id", detected->family},
                   {"variant", detected->variant},
                   {"name", detected->display_name},
                   {"convertible", detected->unsupported_reason.empty()},
                   {"state_dict_prefix", prefix},
                   {"evidence", detected->evidence}};
  else
    r["family"] = {{"id", "unknown"},
                   {"variant", ""},
                   {"name", "unknown"},
                   {"convertible", false},
                   {"state_dict_prefix", ""},
                   {"evidence", {"no known architecture's key layout matched the tensor names"}}};
  if (c.root && c.root->is(ckpt::ValueKind::Dict) && c.root->contains("network_weights") &&
      (c.root->contains("init_args") || c.root->contains("trainer_name")))
    r["nnunet"] = nnunet_facts(*c.root);
  return r;
}

}  // namespace medport::models
