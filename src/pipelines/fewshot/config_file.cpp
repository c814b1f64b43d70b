#include "medport/pipelines/fewshot/config_file.hpp"

#include <map>
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

// Reads one config into the settings. Every setting may be given once: the flat form and the
// guide's nested form of the same setting together are an error naming both keys.
class ConfigReader {
 public:
  ConfigReader(const Reader& r, FewshotSettings& s) : r_(r), s_(s) {}

  void read(const json& j) {
    r_.known_keys(j, "", {"strategy", "ensemble", "ensemble_weights", "classes", "class_id", "class_names", "supports",
                          "support_pool", "threshold", "preprocessing", "postprocessing", "tuning", "memory_bank",
                          "quality", "output", "threads", "batch_size", "model", "inference", "device",
                          "quality_assurance"});
    if (j.contains("strategy")) strategy(j["strategy"], "strategy");
    if (j.contains("ensemble")) ensemble_mode(j["ensemble"], "ensemble", false);
    if (j.contains("ensemble_weights")) ensemble_weights(j["ensemble_weights"], "ensemble_weights");
    if (j.contains("classes")) classes(j["classes"], "classes");
    if (j.contains("class_id")) class_id(j["class_id"], "class_id");
    if (j.contains("class_names")) class_names(j["class_names"]);
    if (j.contains("supports")) supports(j["supports"]);
    if (j.contains("support_pool")) support_pool(j["support_pool"], "support_pool.");
    if (j.contains("threshold")) number("threshold", j["threshold"], "threshold", s_.masks.threshold);
    if (j.contains("preprocessing")) preprocessing(j["preprocessing"]);
    if (j.contains("postprocessing")) postprocessing(j["postprocessing"]);
    if (j.contains("tuning")) tuning(j["tuning"], "tuning.");
    if (j.contains("memory_bank")) memory_bank(j["memory_bank"]);
    if (j.contains("quality")) quality(j["quality"], "quality.", false);
    if (j.contains("output")) output(j["output"]);
    if (j.contains("threads")) integer("threads", j["threads"], "threads", s_.threads);
    if (j.contains("batch_size")) integer("batch_size", j["batch_size"], "batch_size", s_.batch_size);
    if (j.contains("model")) model(j["model"]);
    if (j.contains("inference")) inference(j["inference"]);
    if (j.contains("device")) device(j["device"]);
    if (j.contains("quality_assurance")) quality(j["quality_assurance"], "quality_assurance.", true);
  }

 private:
  void claim(const std::string& setting, const std::string& key) {
    const auto [it, inserted] = set_by_.emplace(setting, key);
    if (!inserted) r_.fail(key, "sets " + setting + ", which '" + it->second + "' already sets");
  }
  void number(const std::string& setting, const json& v, const std::string& key, double& out) {
    claim(setting, key);
    out = r_.number(v, key);
  }
  void integer(const std::string& setting, const json& v, const std::string& key, int& out) {
    claim(setting, key);
    out = r_.integer(v, key);
  }
  void boolean(const std::string& setting, const json& v, const std::string& key, bool& out) {
    claim(setting, key);
    out = r_.boolean(v, key);
  }
  void text(const std::string& setting, const json& v, const std::string& key, std::string& out) {
    claim(setting, key);
    out = r_.text(v, key);
  }
  std::vector<double> numbers(const json& v, const std::string& key, std::size_t count_min, std::size_t count_max) {
    if (!v.is_array() || v.size() < count_min || v.size() > count_max)
      r_.fail(key, "must be a list of " + std::to_string(count_min) +
                       (count_max > count_min ? " to " + std::to_string(count_max) : std::string()) + " numbers");
    std::vector<double> out;
    for (const auto& x : v) out.push_back(r_.number(x, key));
    return out;
  }

  void strategy(const json& v, const std::string& key) {
    claim("strategy", key);
    s_.strategy = canonical_strategy(r_.text(v, key));
  }
  // `guide`: the guide's inference.ensemble.aggregation, where "confidence" is its
  // confidence-weighted fusion of predictions (medport's "soft").
  void ensemble_mode(const json& v, const std::string& key, bool guide) {
    claim("ensemble", key);
    s_.ensemble = r_.text(v, key);
    if (guide && s_.ensemble == "confidence") s_.ensemble = "soft";
  }
  void ensemble_weights(const json& v, const std::string& key) {
    claim("ensemble weights", key);
    s_.ensemble_weights = numbers(v, key, 1, 1000);
  }
  void classes(const json& v, const std::string& key) {
    claim("classes", key);
    if (!v.is_array()) r_.fail(key, "must be a list of label values, e.g. [1, 2]");
    s_.classes.clear();
    for (const auto& c : v) {
      if (!c.is_number_integer() || c.get<std::int64_t>() < 1 || c.get<std::int64_t>() > 255)
        r_.fail(key, "label values must be integers in 1..255");
      s_.classes.push_back(c.get<std::int64_t>());
    }
  }
  // The guide's 0-based class index: class_id c is label value c + 1.
  void class_id(const json& v, const std::string& key) {
    claim("classes", key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 254)
      r_.fail(key, "must be an integer in 0..254 (the guide's 0-based class index: label value = class_id + 1)");
    s_.classes = {v.get<std::int64_t>() + 1};
  }
  void class_names(const json& j) {
    claim("class names", "class_names");
    if (!j.is_object()) r_.fail("class_names", "must map label values to names, e.g. {1: liver}");
    for (const auto& [key, value] : j.items()) {
      std::int64_t id = 0;
      try {
        std::size_t used = 0;
        id = std::stoll(key, &used);
        if (used != key.size()) throw std::invalid_argument(key);
      } catch (const std::exception&) {
        r_.fail("class_names." + key, "keys must be label values (integers)");
      }
      s_.class_names[id] = r_.text(value, "class_names." + key);
    }
  }
  void supports(const json& j) {
    claim("supports", "supports");
    if (!j.is_array()) r_.fail("supports", "must be a list of {image: ..., mask: ...}");
    for (std::size_t i = 0; i < j.size(); ++i) {
      const std::string key = "supports[" + std::to_string(i) + "].";
      r_.known_keys(j[i], key, {"image", "mask"});
      if (!j[i].contains("image") || !j[i].contains("mask")) r_.fail(key, "needs both image and mask");
      s_.supports.push_back({r_.path(j[i]["image"], key + "image"), r_.path(j[i]["mask"], key + "mask")});
    }
  }
  void support_pool(const json& j, const std::string& prefix) {
    r_.known_keys(j, prefix, {"dir", "num_support", "select", "seed"});
    if (j.contains("dir")) pool_dir(j["dir"], prefix + "dir");
    if (j.contains("num_support")) integer("num_support", j["num_support"], prefix + "num_support", s_.pool.num_support);
    if (j.contains("select")) text("support selection", j["select"], prefix + "select", s_.pool.select);
    if (j.contains("seed")) seed(j["seed"], prefix + "seed");
  }
  void pool_dir(const json& v, const std::string& key) {
    claim("support pool", key);
    s_.pool.dir = r_.path(v, key);
  }
  void seed(const json& v, const std::string& key) {
    claim("seed", key);
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0) r_.fail(key, "must be a non-negative integer");
    s_.pool.seed = v.get<std::uint64_t>();
  }
  void preprocessing(const json& j) {
    const std::string p = "preprocessing.";
    r_.known_keys(j, p, {"normalize", "resize", "modality", "clip", "percentiles", "target_spacing"});
    auto& pre = s_.preprocessing;
    if (j.contains("normalize")) text("normalize", j["normalize"], p + "normalize", pre.normalize);
    if (j.contains("resize")) text("resize", j["resize"], p + "resize", pre.resize);
    if (j.contains("modality")) text("modality", j["modality"], p + "modality", pre.modality);
    if (j.contains("clip")) {
      claim("clip", p + "clip");
      if (j["clip"].is_null()) {
        pre.clip.reset();
      } else {
        const auto v = numbers(j["clip"], p + "clip", 2, 2);
        pre.clip = std::array<double, 2>{v[0], v[1]};
      }
    }
    if (j.contains("percentiles")) {
      claim("percentiles", p + "percentiles");
      const auto v = numbers(j["percentiles"], p + "percentiles", 2, 2);
      pre.percentiles = {v[0], v[1]};
    }
    if (j.contains("target_spacing")) {
      claim("target spacing", p + "target_spacing");
      pre.target_spacing = j["target_spacing"].is_null() ? std::vector<double>{} : numbers(j["target_spacing"], p + "target_spacing", 2, 3);
    }
  }
  void postprocessing(const json& j) {
    const std::string p = "postprocessing.";
    r_.known_keys(j, p, {"largest_component", "connectivity", "morphology_radius", "min_object_size", "min_object_unit",
                         "fill_holes"});
    auto& m = s_.masks;
    if (j.contains("largest_component")) boolean("largest component", j["largest_component"], p + "largest_component", m.largest_component);
    if (j.contains("connectivity")) integer("connectivity", j["connectivity"], p + "connectivity", m.connectivity);
    if (j.contains("morphology_radius")) integer("morphology radius", j["morphology_radius"], p + "morphology_radius", m.morphology_radius);
    if (j.contains("min_object_size")) number("min object size", j["min_object_size"], p + "min_object_size", s_.min_object_size);
    if (j.contains("min_object_unit")) text("min object unit", j["min_object_unit"], p + "min_object_unit", s_.min_object_unit);
    if (j.contains("fill_holes")) boolean("fill holes", j["fill_holes"], p + "fill_holes", m.fill_holes);
  }
  void tuning(const json& t, const std::string& p) {
    r_.known_keys(t, p, {"steps", "learning_rate"});
    if (t.contains("steps")) integer("tuning steps", t["steps"], p + "steps", s_.tune_steps);
    if (t.contains("learning_rate")) number("tuning learning rate", t["learning_rate"], p + "learning_rate", s_.tune_lr);
  }
  void memory_bank(const json& m) {
    const std::string p = "memory_bank.";
    r_.known_keys(m, p, {"path", "update", "retrieval", "top_k", "fusion_temperature", "plot"});
    if (m.contains("path")) {
      claim("bank", p + "path");  // a PostgreSQL URL stays as it is; a file is relative to the config
      const std::string location = r_.text(m["path"], p + "path");
      s_.bank = is_postgres_location(location) ? location : r_.path(m["path"], p + "path").string();
    }
    if (m.contains("update")) boolean("bank update", m["update"], p + "update", s_.update_bank);
    if (m.contains("retrieval")) text("retrieval", m["retrieval"], p + "retrieval", s_.retrieval);
    if (m.contains("top_k")) integer("top k", m["top_k"], p + "top_k", s_.top_k);
    if (m.contains("fusion_temperature")) number("fusion temperature", m["fusion_temperature"], p + "fusion_temperature", s_.fusion_temperature);
    if (m.contains("plot")) {
      claim("bank plot", p + "plot");
      s_.bank_plot = r_.path(m["plot"], p + "plot").string();
    }
  }
  // medport's `quality:` and the guide's `quality_assurance:` (with `enabled`).
  void quality(const json& j, const std::string& p, bool guide) {
    if (guide) r_.known_keys(j, p, {"enabled", "min_confidence", "max_volume_ratio"});
    else r_.known_keys(j, p, {"min_confidence", "max_volume_ratio"});
    if (j.contains("min_confidence")) {
      claim("min confidence", p + "min_confidence");
      s_.quality.min_confidence = r_.optional_number(j["min_confidence"], p + "min_confidence");  // null: off
    }
    if (j.contains("max_volume_ratio")) {
      claim("max volume ratio", p + "max_volume_ratio");
      s_.quality.max_volume_ratio = r_.optional_number(j["max_volume_ratio"], p + "max_volume_ratio");
    }
    if (j.contains("enabled") && !r_.boolean(j["enabled"], p + "enabled")) {
      claim("min confidence", p + "enabled");
      claim("max volume ratio", p + "enabled");
      s_.quality.min_confidence.reset();
      s_.quality.max_volume_ratio.reset();
    }
  }
  void output(const json& j) {
    const std::string p = "output.";
    r_.known_keys(j, p, {"format", "montage", "montage_slices", "save_confidence", "save_probabilities", "save_logits",
                         "save_visualization"});
    auto& o = s_.output;
    if (j.contains("format")) {
      text("format", j["format"], p + "format", o.format);
      if (o.format == "nifti") o.format = "nii.gz";  // the guide's name
      if (o.format == "dicom")
        r_.fail(p + "format", "medport writes label maps as nii.gz, npy or png, not DICOM (a DICOM segmentation "
                               "needs the source series' identifiers); use nifti");
    }
    if (j.contains("montage")) boolean("montage", j["montage"], p + "montage", o.montage);
    if (j.contains("save_visualization")) boolean("montage", j["save_visualization"], p + "save_visualization", o.montage);
    if (j.contains("montage_slices")) integer("montage slices", j["montage_slices"], p + "montage_slices", o.montage_slices);
    if (j.contains("save_confidence")) boolean("save confidence", j["save_confidence"], p + "save_confidence", o.save_confidence);
    if (j.contains("save_probabilities")) boolean("save probabilities", j["save_probabilities"], p + "save_probabilities", o.save_probabilities);
    if (j.contains("save_logits")) boolean("save logits", j["save_logits"], p + "save_logits", o.save_logits);
  }
  // The guide's `model:` block: the model the config was written for, checked against MODEL_DIR.
  void model(const json& j) {
    const std::string p = "model.";
    r_.known_keys(j, p, {"checkpoint", "in_channels", "base_channels", "num_query_tokens", "num_attention_heads",
                         "volume_shape", "use_memory_bank", "memory_momentum", "device"});
    auto& m = s_.model;
    if (j.contains("checkpoint")) m.checkpoint = r_.text(j["checkpoint"], p + "checkpoint");
    auto count = [&](const char* name, std::optional<std::int64_t>& out) {
      if (!j.contains(name)) return;
      const json& v = j[name];
      if (!v.is_number_integer() || v.get<std::int64_t>() < 1) r_.fail(p + name, "must be a positive integer");
      out = v.get<std::int64_t>();
    };
    count("in_channels", m.in_channels);
    count("base_channels", m.base_channels);
    count("num_query_tokens", m.num_query_tokens);
    count("num_attention_heads", m.num_attention_heads);
    if (j.contains("volume_shape")) {
      const json& v = j["volume_shape"];
      if (!v.is_array() || v.size() != 3) r_.fail(p + "volume_shape", "must be [D, H, W]");
      std::vector<std::int64_t> shape;
      for (const auto& x : v) {
        if (!x.is_number_integer() || x.get<std::int64_t>() < 1) r_.fail(p + "volume_shape", "must be [D, H, W] of positive integers");
        shape.push_back(x.get<std::int64_t>());
      }
      m.volume_shape = shape;
    }
    if (j.contains("use_memory_bank")) r_.boolean(j["use_memory_bank"], p + "use_memory_bank");
    if (j.contains("memory_momentum")) r_.number(j["memory_momentum"], p + "memory_momentum");
    if (j.contains("device")) device_type(j["device"], p + "device");
  }
  void inference(const json& j) {
    const std::string p = "inference.";
    r_.known_keys(j, p, {"strategy", "num_support", "threshold", "batch_size", "tuning", "ensemble", "class_id", "classes",
                         "support_dir", "select", "seed", "retrieval", "top_k"});
    if (j.contains("strategy")) strategy(j["strategy"], p + "strategy");
    if (j.contains("num_support")) integer("num_support", j["num_support"], p + "num_support", s_.pool.num_support);
    if (j.contains("threshold")) number("threshold", j["threshold"], p + "threshold", s_.masks.threshold);
    if (j.contains("batch_size")) integer("batch_size", j["batch_size"], p + "batch_size", s_.batch_size);
    if (j.contains("tuning")) tuning(j["tuning"], p + "tuning.");
    if (j.contains("ensemble")) {
      const json& e = j["ensemble"];
      r_.known_keys(e, p + "ensemble.", {"aggregation", "weights"});
      if (e.contains("aggregation")) ensemble_mode(e["aggregation"], p + "ensemble.aggregation", true);
      if (e.contains("weights")) ensemble_weights(e["weights"], p + "ensemble.weights");
    }
    if (j.contains("class_id")) class_id(j["class_id"], p + "class_id");
    if (j.contains("classes")) classes(j["classes"], p + "classes");
    if (j.contains("support_dir")) pool_dir(j["support_dir"], p + "support_dir");
    if (j.contains("select")) text("support selection", j["select"], p + "select", s_.pool.select);
    if (j.contains("seed")) seed(j["seed"], p + "seed");
    if (j.contains("retrieval")) text("retrieval", j["retrieval"], p + "retrieval", s_.retrieval);
    if (j.contains("top_k")) integer("top k", j["top_k"], p + "top_k", s_.top_k);
  }
  void device_type(const json& v, const std::string& key) {
    text("device", v, key, s_.provider);
    if (s_.provider != "cpu" && s_.provider != "cuda") r_.fail(key, "must be cpu or cuda");
    s_.provider_from_config = true;
  }
  void device(const json& j) {
    const std::string p = "device.";
    r_.known_keys(j, p, {"type", "gpu_id", "threads"});
    if (j.contains("type")) device_type(j["type"], p + "type");
    if (j.contains("gpu_id")) integer("gpu id", j["gpu_id"], p + "gpu_id", s_.device);
    if (j.contains("threads")) integer("threads", j["threads"], p + "threads", s_.threads);
  }

  const Reader& r_;
  FewshotSettings& s_;
  std::map<std::string, std::string> set_by_;
};

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
  try {
    ConfigReader(r, settings).read(j);
    validate_values(settings);
  } catch (const UsageError& e) {  // a value the settings refuse (e.g. an unknown strategy name)
    throw InputError(path.string(), e.what());
  }
}

}  // namespace medport::pipelines::fewshot
