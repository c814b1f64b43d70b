#include "medport/models/checkpoint_report.hpp"

#include <cstring>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/safetensors.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"
#include "medport/checkpoint/value_json.hpp"
#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"
#include "medport/checkpoint/weight_source.hpp"
#include "medport/models/family.hpp"
#include "medport/util/file_io.hpp"

namespace medport::models {
namespace {

using json = nlohmann::ordered_json;
using Bytes = std::shared_ptr<const std::vector<std::byte>>;

struct Entry {
  std::string path;
  Tensor tensor;
  std::string storage_key;
};

struct Contents {
  std::string format, format_version, archive_prefix, byteorder = "little";
  json top_level = json::object();
  std::vector<Entry> entries;
  ckpt::ValuePtr root;  // torch formats only
};

bool starts_with(const std::vector<std::byte>& b, std::string_view magic) {
  return b.size() >= magic.size() && std::memcmp(b.data(), magic.data(), magic.size()) == 0;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool looks_like_safetensors(const std::vector<std::byte>& b) {
  if (b.size() < 10) return false;
  std::uint64_t header_len = 0;
  std::memcpy(&header_len, b.data(), 8);  // little-endian hosts only, like the rest of medport
  return header_len >= 2 && header_len <= b.size() - 8 && static_cast<char>(b[8]) == '{';
}

Contents read_torch(const Bytes& bytes, const std::string& source) {
  const auto ck = ckpt::load_torch_checkpoint_bytes(bytes, source);
  Contents c{ck.format, ck.format_version, ck.archive_prefix, ck.byteorder, json::object(), {}, ck.root};
  if (c.format == "pickle") c.format_version = std::to_string(ck.pickle_protocol);
  if (ck.root && ck.root->is(ckpt::ValueKind::Dict))
    for (const auto& [k, v] : ck.root->dict_data().entries)
      c.top_level[ckpt::key_to_path_part(*k)] = v ? v->type_name() : "NoneType";
  for (const auto& t : ck.tensors) c.entries.push_back({t.path, t.tensor, t.storage_key});
  return c;
}

Contents read_named(std::string format, std::string version, ckpt::NamedTensors named, const char* type) {
  Contents c{std::move(format), std::move(version), "", "little", json::object(), {}, nullptr};
  for (auto& [name, tensor] : named) {
    c.top_level[name] = type;
    c.entries.push_back({name, std::move(tensor), name});
  }
  return c;
}

Contents read_contents(const Bytes& bytes, const std::string& source) {
  if (starts_with(*bytes, "\x93NUMPY")) {
    Tensor t = ckpt::read_npy(*bytes, source);
    return read_named("npy", std::to_string(static_cast<int>((*bytes)[6])) + ".0", {{"array", std::move(t)}}, "ndarray");
  }
  if (ckpt::looks_like_zip(*bytes)) {
    const ckpt::ZipArchive zip(bytes, source);
    bool torch = false, all_npy = !zip.entry_names().empty();
    for (const auto& name : zip.entry_names()) {
      torch = torch || ends_with(name, "data.pkl") || ends_with(name, "constants.pkl");
      all_npy = all_npy && ends_with(name, ".npy");
    }
    if (torch) return read_torch(bytes, source);
    if (all_npy) return read_named("npz", "", ckpt::read_npz(bytes, source), "ndarray");
    throw InputError(source, "zip archive that is neither a PyTorch checkpoint (no data.pkl) nor an npz (members other than .npy)");
  }
  if (looks_like_safetensors(*bytes)) {
    auto st = ckpt::read_safetensors(*bytes, source);
    return read_named("safetensors", "", std::move(st.tensors), "Tensor");
  }
  return read_torch(bytes, source);
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
  const std::string source = path.string();
  const Bytes bytes = std::make_shared<const std::vector<std::byte>>(read_file(path));
  Contents c = read_contents(bytes, source);

  json r;
  r["schema"] = "medport.inspect/1";
  r["file"] = source;
  r["size_bytes"] = bytes->size();
  r["sha256"] = sha256_hex(*bytes);
  r["format"] = c.format;
  r["format_version"] = c.format_version;
  if (!c.archive_prefix.empty()) r["archive_prefix"] = c.archive_prefix;
  r["byteorder"] = c.byteorder;
  r["top_level"] = c.top_level;

  std::vector<ckpt::WeightInfo> infos;
  std::unordered_map<const Storage*, std::vector<std::string>> paths_by_storage;
  std::vector<const Storage*> storage_order;
  std::int64_t total = 0, unique = 0;
  json tensors = json::object();
  for (const auto& e : c.entries) {
    const Storage* s = e.tensor.storage().get();
    auto [it, inserted] = paths_by_storage.try_emplace(s);
    if (inserted) {
      storage_order.push_back(s);
      unique += s ? s->numel() : 0;
    }
    it->second.push_back(e.path);
    total += e.tensor.numel();
    infos.push_back({e.path, e.tensor.dtype(), e.tensor.shape()});
    tensors[e.path] = {{"dtype", dtype_name(e.tensor.dtype())},
                       {"shape", e.tensor.shape()},
                       {"contiguous", e.tensor.is_contiguous()},
                       {"storage", e.storage_key},
                       {"storage_offset", e.tensor.offset()},
                       {"strides", e.tensor.strides()}};
  }
  // Detection from names and shapes only, through the family table convert uses.
  const auto detected = detect_family(ckpt::WeightSource::index_only(std::move(infos), c.root, path.string()));
  const std::string prefix = detected && !detected->prefix.empty() ? detected->prefix + "." : "";
  std::int64_t params = 0;
  std::unordered_set<const Storage*> counted;
  for (const auto& e : c.entries)
    if (e.path.rfind(prefix, 0) == 0 && counted.insert(e.tensor.storage().get()).second)
      params += e.tensor.storage() ? e.tensor.storage()->numel() : 0;

  r["tensor_count"] = c.entries.size();
  r["storage_count"] = storage_order.size();
  r["total_elements_all_tensors"] = total;
  r["unique_elements"] = unique;
  r["parameter_count"] = detected ? params : unique;
  r["tensors"] = std::move(tensors);
  json aliases = json::array();
  for (const Storage* s : storage_order) {
    const auto& paths = paths_by_storage[s];
    if (paths.size() > 1) {
      std::string key;
      for (const auto& e : c.entries)
        if (e.tensor.storage().get() == s) { key = e.storage_key; break; }
      aliases.push_back({{"storage", key}, {"paths", paths}});
    }
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
