#include "medport/pipelines/convert.hpp"

#include <algorithm>
#include <set>

#include "medport/error.hpp"
#include "medport/graph/fp16.hpp"
#include "medport/version.hpp"

namespace medport::pipelines {
namespace {

namespace fs = std::filesystem;

std::string supported_families() {
  std::string out;
  for (const auto* f : models::model_families()) out += (out.empty() ? "" : "; ") + std::string(f->display_name());
  return out;
}

// The weights file SOURCE means: a family's folder layout, else the file itself.
fs::path locate_weights(const fs::path& source, const models::ConvertOptions& options) {
  for (const auto* f : models::model_families())
    if (auto weights = f->locate_weights(source, options)) return *weights;
  std::error_code ec;
  if (fs::is_directory(source, ec))
    throw InputError(source.string(), "folder is not laid out like any supported model (nnU-Net v2 model folder with "
                                      "plans.json, dataset.json and fold_*/, or a fold folder)");
  return source;
}

void check_family_options(const models::ModelFamily& family, const models::ConvertOptions& options) {
  std::set<std::string> known;
  for (const auto& o : family.options()) known.insert(o.name);
  for (const auto& [name, value] : options.family_options)
    if (!known.count(name))
      throw UsageError(std::string(family.display_name()) + " models take no option '" + name + "'");
}

void prepare_output(const models::ModelFamily& family, const exporters::Exporter& exporter, const fs::path& output) {
  std::error_code ec;
  if (family.multi_graph()) {
    if (fs::exists(output, ec) && !fs::is_directory(output, ec))
      throw UsageError(std::string(family.id()) + " writes several graphs: -o must name a folder, not the file " +
                       output.string());
    if (output.extension() == ".onnx")
      throw UsageError(std::string(family.id()) + " writes several graphs: -o must name a folder, not " + output.string());
  } else if (fs::is_directory(output, ec) && output.extension() != exporter.extension()) {
    // A package folder of the format itself (".mlpackage") is replaced like a file.
    throw UsageError("-o must name a file, not the folder " + output.string());
  }
}

// Removes what a failed conversion wrote (files it created only).
class WrittenFiles {
 public:
  void add(const fs::path& p) { files_.push_back(p); }
  void keep() { files_.clear(); }
  ~WrittenFiles() {
    std::error_code ec;
    for (const auto& p : files_) fs::remove_all(p, ec);
  }

 private:
  std::vector<fs::path> files_;
};

}  // namespace

ConvertReport convert(const ConvertRequest& request) {
  if (request.output.empty()) throw UsageError("an output path is required (-o OUT)");
  std::error_code ec;
  if (!fs::exists(request.source, ec)) throw InputError(request.source.string(), "no such file or folder");
  if (fs::exists(request.output, ec) && fs::equivalent(request.source, request.output, ec))
    throw UsageError("the output would overwrite the source " + request.source.string());
  const exporters::Exporter& exporter = exporters::find_exporter(request.format);

  models::ConvertContext context;
  context.source = request.source;
  context.options = request.options;
  context.weights = locate_weights(request.source, request.options);
  // The file's hash is computed on another thread while the graphs are built and written.
  ckpt::OpenOptions open_options;
  open_options.hash_in_background = true;
  open_options.verify_in_background = true;  // damage outside the weights (optimizer state) is still damage
  const ckpt::WeightSource weights = ckpt::WeightSource::open(context.weights, open_options);

  const auto detection = models::detect_family(weights);
  if (!detection)
    throw InputError(context.weights.string(), "unrecognised model family: no supported architecture's tensor names "
                                               "matched (supported: " + supported_families() + ")");
  if (!detection->unsupported_reason.empty()) {
    std::string why;
    for (const auto& e : detection->evidence) why += "\n  " + e;
    throw InputError(context.weights.string(), detection->unsupported_reason + why);
  }
  const models::ModelFamily* family = models::find_family(detection->family);
  if (!family) throw std::logic_error("detected family '" + detection->family + "' is not in the table");
  check_family_options(*family, request.options);
  prepare_output(*family, exporter, request.output);

  models::BuiltModel built = family->build(weights, *detection, context);
  const bool fp16 = request.options.fp16;
  if (exporter.id() != "onnx")
    std::erase_if(built.graphs, [](const models::NamedGraph& g) { return g.onnx_only; });
  std::erase_if(built.sidecar.graphs, [&](const models::GraphSpec& spec) {
    return std::none_of(built.graphs.begin(), built.graphs.end(), [&](const auto& g) { return g.name == spec.name; });
  });
  for (auto& g : built.graphs) {
    if (!fp16 || !g.fp16) continue;
    if (exporter.wants_fp16_graphs()) g.graph = graph::convert_to_fp16(g.graph);
    for (auto& spec : built.sidecar.graphs)
      if (spec.name == g.name) spec.precision = "fp16";
  }

  models::Sidecar& s = built.sidecar;
  s.family = std::string(family->id());
  if (s.variant.empty()) s.variant = detection->variant;
  s.medport_version = std::string(kVersion);
  s.format = std::string(exporter.id());
  s.precision = fp16 ? "fp16" : "fp32";
  s.opset = request.options.opset;
  s.checkpoint = fs::absolute(context.weights).lexically_normal().string();

  if (exporter.embeds_checkpoint_hash()) s.checkpoint_sha256 = weights.sha256();
  exporters::ExportOptions export_options = request.export_options;
  export_options.fp16 = fp16;
  WrittenFiles written;  // what this run creates, removed again if anything below fails
  if (family->multi_graph() && !fs::exists(request.output, ec)) {
    fs::create_directories(request.output, ec);
    if (ec) throw InputError(request.output.string(), "cannot create the output folder: " + ec.message());
    written.add(request.output);
  }
  for (const auto& g : built.graphs) {
    const fs::path path = family->multi_graph() ? request.output / (g.name + std::string(exporter.extension())) : request.output;
    written.add(path);
    written.add(path.string() + ".data");  // ONNX external data
  }
  const exporters::ExportResult result = exporter.write(built, request.output, export_options);
  for (const auto& f : result.files) written.add(f);
  if (result.graph_files.size() != built.graphs.size())
    throw std::logic_error("exporter " + std::string(exporter.id()) + " reported a wrong number of graph files");
  for (std::size_t i = 0; i < built.graphs.size(); ++i)
    for (auto& spec : s.graphs)
      if (spec.name == built.graphs[i].name) spec.file = result.graph_files[i];

  ConvertReport report;
  report.files = result.files;
  const fs::path folder = family->multi_graph() ? request.output : request.output.parent_path();
  for (const auto& extra : built.extra_files) {
    const fs::path path = folder / extra.name;
    written.add(path);
    extra.write(path);
    report.files.push_back(path);
  }
  const fs::path sidecar = models::sidecar_path_for(request.output);
  written.add(sidecar);
  s.checkpoint_sha256 = weights.sha256();  // asked for last: the background hash is done by now (or already was)
  models::write_sidecar(sidecar, s);
  report.files.push_back(sidecar);
  written.keep();

  report.family = s.family;
  report.network_class = s.variant;
  report.format = s.format;
  report.checkpoint = context.weights;
  report.details = std::move(built.details);
  report.parameters = built.parameters;
  report.tensors_used = built.tensors_used;
  report.tensors_total = built.tensors_total;
  return report;
}

}  // namespace medport::pipelines
