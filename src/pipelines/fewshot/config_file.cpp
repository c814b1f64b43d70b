#include "medport/pipelines/fewshot/config_file.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/pipelines/fewshot/bank_backend.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/yaml_json.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One config file being read: error messages name the file and the dotted key.
struct Reader {
  std::string source;
  fs::path base;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw InputError(source, "'" + key + "': " + what);
  }
  void known_keys(const json& object, const std::string& prefix, const std::set<std::string>& keys) const {
    if (!object.is_object()) fail(prefix.empty() ? "(top level)" : prefix, "must be a mapping of keys to values");
    for (const auto& [key, value] : object.items())
      if (!keys.count(key)) {
        std::string list;
        for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
        fail(prefix + key, "unknown key (known here: " + list + ")");
      }
  }
  double number(const json& v, const std::string& key) const {
    if (!v.is_number()) fail(key, "must be a number");
    return v.get<double>();
  }
  std::optional<double> optional_number(const json& v, const std::string& key) const {
    if (v.is_null()) return std::nullopt;  // `min_confidence: null` switches the check off
    return number(v, key);
  }
  int integer(const json& v, const std::string& key) const {
    if (!v.is_number_integer()) fail(key, "must be an integer");
    return v.get<int>();
  }
  bool boolean(const json& v, const std::string& key) const {
    if (!v.is_boolean()) fail(key, "must be true or false");
    return v.get<bool>();
  }
  std::string text(const json& v, const std::string& key) const {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number()) return v.dump();  // `format: 1` would be odd, but say so through validate()
    fail(key, "must be a string");
  }
  fs::path path(const json& v, const std::string& key) const {
    fs::path p = text(v, key);
    return p.is_absolute() ? p : base / p;
  }
};

void read_postprocessing(const Reader& r, const json& j, FewshotSettings& s) {
  r.known_keys(j, "postprocessing.", {"largest_component", "connectivity", "morphology_radius"});
  if (j.contains("largest_component")) s.masks.largest_component = r.boolean(j["largest_component"], "postprocessing.largest_component");
  if (j.contains("connectivity")) s.masks.connectivity = r.integer(j["connectivity"], "postprocessing.connectivity");
  if (j.contains("morphology_radius")) s.masks.morphology_radius = r.integer(j["morphology_radius"], "postprocessing.morphology_radius");
}

void read_quality(const Reader& r, const json& j, FewshotSettings& s) {
  r.known_keys(j, "quality.", {"min_confidence", "max_volume_ratio"});
  if (j.contains("min_confidence")) s.quality.min_confidence = r.optional_number(j["min_confidence"], "quality.min_confidence");
  if (j.contains("max_volume_ratio")) s.quality.max_volume_ratio = r.optional_number(j["max_volume_ratio"], "quality.max_volume_ratio");
}

void read_output(const Reader& r, const json& j, FewshotSettings& s) {
  r.known_keys(j, "output.", {"format", "montage", "montage_slices", "save_confidence"});
  if (j.contains("format")) s.output.format = r.text(j["format"], "output.format");
  if (j.contains("montage")) s.output.montage = r.boolean(j["montage"], "output.montage");
  if (j.contains("montage_slices")) s.output.montage_slices = r.integer(j["montage_slices"], "output.montage_slices");
  if (j.contains("save_confidence")) s.output.save_confidence = r.boolean(j["save_confidence"], "output.save_confidence");
}

void read_supports(const Reader& r, const json& j, FewshotSettings& s) {
  if (!j.is_array()) r.fail("supports", "must be a list of {image: ..., mask: ...}");
  for (std::size_t i = 0; i < j.size(); ++i) {
    const std::string key = "supports[" + std::to_string(i) + "].";
    r.known_keys(j[i], key, {"image", "mask"});
    if (!j[i].contains("image") || !j[i].contains("mask")) r.fail(key, "needs both image and mask");
    s.supports.push_back({r.path(j[i]["image"], key + "image"), r.path(j[i]["mask"], key + "mask")});
  }
}

void read_classes(const Reader& r, const json& j, FewshotSettings& s) {
  if (!j.is_array()) r.fail("classes", "must be a list of label values, e.g. [1, 2]");
  s.classes.clear();
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 255)
      r.fail("classes", "label values must be integers in 1..255");
    s.classes.push_back(v.get<std::int64_t>());
  }
}

void read_class_names(const Reader& r, const json& j, FewshotSettings& s) {
  if (!j.is_object()) r.fail("class_names", "must map label values to names, e.g. {1: liver}");
  for (const auto& [key, value] : j.items()) {
    std::int64_t id = 0;
    try {
      std::size_t used = 0;
      id = std::stoll(key, &used);
      if (used != key.size()) throw std::invalid_argument(key);
    } catch (const std::exception&) {
      r.fail("class_names." + key, "keys must be label values (integers)");
    }
    s.class_names[id] = r.text(value, "class_names." + key);
  }
}

}  // namespace

void apply_config_file(const fs::path& path, FewshotSettings& settings) {
  const auto bytes = read_file(path, std::size_t{1} << 20);
  const std::string content(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  json j;
  const std::string ext = path.extension().string();
  if (ext == ".json") {
    j = json::parse(content, nullptr, false);
    if (j.is_discarded()) throw InputError(path.string(), "not valid JSON");
  } else {
    j = yaml_to_json(content, path.string());
  }
  const Reader r{path.string(), path.parent_path()};
  r.known_keys(j, "", {"strategy", "ensemble", "classes", "class_names", "supports", "threshold", "preprocessing",
                       "postprocessing", "tuning", "memory_bank", "quality", "output", "threads"});
  FewshotSettings& s = settings;
  if (j.contains("strategy")) s.strategy = r.text(j["strategy"], "strategy");
  if (j.contains("ensemble")) s.ensemble = r.text(j["ensemble"], "ensemble");
  if (j.contains("classes")) read_classes(r, j["classes"], s);
  if (j.contains("class_names")) read_class_names(r, j["class_names"], s);
  if (j.contains("supports")) read_supports(r, j["supports"], s);
  if (j.contains("threshold")) s.masks.threshold = r.number(j["threshold"], "threshold");
  if (j.contains("preprocessing")) {
    r.known_keys(j["preprocessing"], "preprocessing.", {"normalize"});
    if (j["preprocessing"].contains("normalize")) s.normalize = r.text(j["preprocessing"]["normalize"], "preprocessing.normalize");
  }
  if (j.contains("postprocessing")) read_postprocessing(r, j["postprocessing"], s);
  if (j.contains("tuning")) {
    const auto& t = j["tuning"];
    r.known_keys(t, "tuning.", {"steps", "learning_rate"});
    if (t.contains("steps")) s.tune_steps = r.integer(t["steps"], "tuning.steps");
    if (t.contains("learning_rate")) s.tune_lr = r.number(t["learning_rate"], "tuning.learning_rate");
  }
  if (j.contains("memory_bank")) {
    const auto& m = j["memory_bank"];
    r.known_keys(m, "memory_bank.", {"path", "update", "retrieval", "top_k", "fusion_temperature", "plot"});
    if (m.contains("path")) {  // a PostgreSQL URL stays as it is; a file is relative to the config
      const std::string text = r.text(m["path"], "memory_bank.path");
      s.bank = is_postgres_location(text) ? text : r.path(m["path"], "memory_bank.path").string();
    }
    if (m.contains("update")) s.update_bank = r.boolean(m["update"], "memory_bank.update");
    if (m.contains("retrieval")) s.retrieval = r.text(m["retrieval"], "memory_bank.retrieval");
    if (m.contains("top_k")) s.top_k = r.integer(m["top_k"], "memory_bank.top_k");
    if (m.contains("fusion_temperature")) s.fusion_temperature = r.number(m["fusion_temperature"], "memory_bank.fusion_temperature");
    if (m.contains("plot")) s.bank_plot = r.path(m["plot"], "memory_bank.plot").string();
  }
  if (j.contains("quality")) read_quality(r, j["quality"], s);
  if (j.contains("output")) read_output(r, j["output"], s);
  if (j.contains("threads")) s.threads = r.integer(j["threads"], "threads");
}

}  // namespace medport::pipelines::fewshot
