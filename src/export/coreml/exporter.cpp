// The Core ML entry of the export table: options from `medport convert`, defaults from the
// family's sidecar section, one package/model per graph.
#include <algorithm>

#include "medport/error.hpp"
#include "medport/export/coreml_exporter.hpp"
#include "medport/version.hpp"

namespace medport::exporters {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& option_list() {
  static const std::vector<std::string> names{"backend",     "precision",   "fp16_io",           "deployment_target",
                                              "input_shape", "shape_range", "enumerated_shapes", "description",
                                              "author",      "license",     "version"};
  return names;
}

std::string option(const ExportOptions& o, const std::string& name, const std::string& fallback = {}) {
  auto it = o.options.find(name);
  return it == o.options.end() ? fallback : it->second;
}

bool is_batch_dim(const std::string& p) { return p == "batch" || p == "N" || p == "B" || p == "K"; }

// Spatial sizes a family records: nnU-Net's patch size, timm's input size, the diffusion image size.
std::vector<std::int64_t> spatial_hint(const nlohmann::ordered_json& section) {
  auto ints = [](const nlohmann::ordered_json& j) {
    std::vector<std::int64_t> v;
    if (j.is_array())
      for (const auto& x : j)
        if (x.is_number_integer()) v.push_back(x.get<std::int64_t>());
    return v;
  };
  if (section.contains("preprocessing") && section["preprocessing"].contains("patch_size"))
    return ints(section["preprocessing"]["patch_size"]);
  if (section.contains("input_size")) {
    auto v = ints(section["input_size"]);
    if (v.size() == 3) v.erase(v.begin());  // [C, H, W]
    return v;
  }
  for (const char* key : {"unet", "model"})
    if (section.contains(key) && section[key].contains("image_size") && section[key]["image_size"].is_number_integer() &&
        section[key]["image_size"].get<std::int64_t>() > 0) {
      const auto s = section[key]["image_size"].get<std::int64_t>();
      return {s, s};
    }
  return {};
}

// Default fixed shapes for inputs with symbolic dims: batch-like dims 1, spatial dims from the
// family's section (in order), nothing else guessed.
void default_shapes(const models::BuiltModel& model, const graph::Graph& g, coreml::WriteOptions& o) {
  const auto spatial = spatial_hint(model.sidecar.family_section);
  for (const auto& in : g.inputs) {
    if (o.input_shapes.count(in.name) || !in.shape) continue;
    Shape shape;
    std::size_t next_spatial = 0;
    bool complete = true;
    for (const auto& d : *in.shape) {
      if (d.is_fixed()) {
        shape.push_back(d.value);
      } else if (is_batch_dim(d.param)) {
        shape.push_back(1);
      } else if (next_spatial < spatial.size()) {
        shape.push_back(spatial[next_spatial++]);
      } else {
        complete = false;
        break;
      }
    }
    if (complete && (next_spatial == 0 || next_spatial == spatial.size())) o.input_shapes[in.name].fixed = shape;
  }
}

std::string json_text(const nlohmann::ordered_json& j) { return j.dump(); }

coreml::Metadata metadata(const models::BuiltModel& model, const models::NamedGraph& graph, const ExportOptions& options) {
  const auto& s = model.sidecar;
  coreml::Metadata m;
  m.description = option(options, "description",
                         s.family + (s.variant.empty() ? "" : " " + s.variant) + " (" + graph.name + ") converted by medport " +
                             std::string(kVersion) + (s.checkpoint.empty() ? "" : " from " + fs::path(s.checkpoint).filename().string()));
  m.author = option(options, "author");
  m.license = option(options, "license");
  m.version = option(options, "version");
  m.user.emplace_back("com.medport.version", std::string(kVersion));
  m.user.emplace_back("com.medport.family", s.family);
  m.user.emplace_back("com.medport.variant", s.variant);
  m.user.emplace_back("com.medport.graph", graph.name);
  m.user.emplace_back("com.medport.checkpoint_sha256", s.checkpoint_sha256);
  const auto& f = s.family_section;
  for (const char* key : {"class_names", "labels"})
    if (f.contains(key)) {
      m.user.emplace_back("com.medport.class_labels", json_text(f[key]));
      break;
    }
  nlohmann::ordered_json pre = nlohmann::ordered_json::object();
  for (const char* key : {"normalization", "preprocessing", "mean", "std", "input_size", "interpolation", "crop_pct"})
    if (f.contains(key)) pre[key] = f[key];
  if (!pre.empty()) m.user.emplace_back("com.medport.preprocessing", json_text(pre));
  m.user.emplace_back("com.medport.sidecar", json_text(f));
  return m;
}

class CoreMLExporter final : public Exporter {
 public:
  std::string_view id() const override { return "coreml"; }
  std::string_view description() const override {
    return "Core ML for iOS/iPadOS/macOS apps: ML Program .mlpackage (iOS15+) or NeuralNetwork .mlmodel";
  }
  bool wants_fp16_graphs() const override { return false; }
  bool embeds_checkpoint_hash() const override { return true; }
  std::string_view extension() const override { return ".mlpackage"; }
  std::vector<std::string> option_names() const override { return option_list(); }

  ExportResult write(const models::BuiltModel& model, const fs::path& output, const ExportOptions& options) const override {
    for (const auto& [name, value] : options.options)
      if (std::find(option_list().begin(), option_list().end(), name) == option_list().end())
        throw UsageError("--format coreml takes no option '" + name + "'");
    ExportResult result;
    const bool folder = model.graphs.size() > 1;
    for (const auto& g : model.graphs) {
      if (g.onnx_only)
        throw InputError("graph '" + g.name + "'", "exists only as ONNX (a training-time gradient graph); Core ML has no form for it");
      fs::path path = output;
      if (folder) {
        const bool nn = option(options, "backend") == "neuralnetwork";
        path = output / (g.name + (nn ? ".mlmodel" : ".mlpackage"));
      }
      const auto report = coreml::write_coreml(g.graph, path, coreml_write_options(model, g, path, options));
      result.graph_files.push_back(path.filename().string());
      result.files.insert(result.files.end(), report.files.begin(), report.files.end());
    }
    return result;
  }
};

}  // namespace

coreml::WriteOptions coreml_write_options(const models::BuiltModel& model, const models::NamedGraph& graph,
                                          const fs::path& output, const ExportOptions& options) {
  coreml::WriteOptions o;
  std::string ext = output.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string backend = option(options, "backend", ext == ".mlmodel" ? "neuralnetwork" : "mlprogram");
  if (backend == "mlprogram") {
    o.backend = coreml::Backend::MLProgram;
  } else if (backend == "neuralnetwork") {
    o.backend = coreml::Backend::NeuralNetwork;
  } else {
    throw UsageError("--backend: '" + backend + "' (mlprogram or neuralnetwork)");
  }
  const std::string precision = option(options, "precision", options.fp16 ? "fp16" : "fp32");
  if (precision != "fp16" && precision != "fp32") throw UsageError("precision: '" + precision + "' (fp16 or fp32)");
  o.fp16 = precision == "fp16";
  const std::string io = option(options, "fp16_io", "false");
  if (io != "true" && io != "false") throw UsageError("fp16_io: '" + io + "' (true or false)");
  o.fp16_io = io == "true";
  const std::string target = option(options, "deployment_target");
  o.target = target.empty() ? coreml::default_target(o.backend) : coreml::parse_target(target);

  auto names = [&](const auto& parsed, const char* flag) {
    for (const auto& [name, _] : parsed)
      if (std::none_of(graph.graph.inputs.begin(), graph.graph.inputs.end(), [&](const auto& i) { return i.name == name; }) &&
          model.graphs.size() == 1)
        throw UsageError(std::string(flag) + ": the model has no input '" + name + "'");
  };
  if (auto text = option(options, "input_shape"); !text.empty()) {
    const auto parsed = coreml::parse_input_shapes(text);
    names(parsed, "--input-shape");
    for (const auto& [name, shape] : parsed) o.input_shapes[name].fixed = shape;
  }
  if (auto text = option(options, "shape_range"); !text.empty()) {
    const auto parsed = coreml::parse_shape_ranges(text);
    names(parsed, "--shape-range");
    for (const auto& [name, ranges] : parsed) {
      auto& s = o.input_shapes[name];
      s.ranges = ranges;
      if (s.fixed.empty())
        for (const auto& r : ranges) s.fixed.push_back(r.lower);
    }
  }
  if (auto text = option(options, "enumerated_shapes"); !text.empty()) {
    const auto parsed = coreml::parse_enumerated_shapes(text);
    names(parsed, "--enumerated-shapes");
    for (const auto& [name, shapes] : parsed) {
      auto& s = o.input_shapes[name];
      s.enumerated = shapes;
      if (s.fixed.empty()) s.fixed = shapes.front();
    }
  }
  // Only this graph's inputs (IRIS: two graphs share one set of flags).
  std::erase_if(o.input_shapes, [&](const auto& e) {
    return std::none_of(graph.graph.inputs.begin(), graph.graph.inputs.end(), [&](const auto& i) { return i.name == e.first; });
  });
  default_shapes(model, graph.graph, o);
  o.metadata = metadata(model, graph, options);
  return o;
}

const Exporter& coreml_exporter() {
  static const CoreMLExporter instance;
  return instance;
}

}  // namespace medport::exporters
