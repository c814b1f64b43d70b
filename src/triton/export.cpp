#include "medport/triton/export.hpp"

#include <unistd.h>

#include <atomic>

#include "medport/error.hpp"
#include "medport/models/sidecar.hpp"
#include "medport/triton/repository.hpp"
#include "medport/util/file_io.hpp"

namespace medport::triton {

namespace fs = std::filesystem;

namespace {

// The graph Triton serves for a model: "model" (one-graph families), IRIS's "forward", else the first.
const models::GraphSpec& main_graph(const models::Sidecar& s, const std::string& source) {
  if (s.graphs.empty()) throw InputError(source, "the sidecar lists no graphs");
  for (const char* name : {"model", "forward"})
    for (const auto& g : s.graphs)
      if (g.name == name) return g;
  return s.graphs.front();
}

// A folder inside the repository that is removed unless committed (renamed into place).
class StagedModel {
 public:
  StagedModel(const fs::path& repository, const std::string& name) : final_(repository / name) {
    static std::atomic<int> counter{0};
    staging_ = repository / ("." + name + ".export-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(staging_);
  }
  ~StagedModel() {
    std::error_code ec;
    if (!committed_) fs::remove_all(staging_, ec);
  }
  const fs::path& path() const { return staging_; }
  void commit(bool overwrite) {
    std::error_code ec;
    if (fs::exists(final_, ec)) {
      if (!overwrite) throw UsageError(final_.string() + " already exists (use --overwrite to replace it)");
      fs::remove_all(final_);
    }
    fs::rename(staging_, final_);
    committed_ = true;
  }

 private:
  fs::path final_, staging_;
  bool committed_ = false;
};

void copy_file_to(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to.parent_path());
  // A hard link costs nothing when source and repository share a file system; else a copy.
  fs::create_hard_link(from, to, ec);
  if (ec) fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

std::vector<fs::path> relative_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& item : fs::recursive_directory_iterator(dir))
    if (item.is_regular_file()) out.push_back(fs::relative(item.path(), dir));
  std::sort(out.begin(), out.end());
  return out;
}

// One graph as a plain Triton model: config.pbtxt, V/model.onnx and V/model.medport.json holding
// the same sidecar narrowed to this graph.
ExportedModel export_single(const fs::path& onnx, const models::Sidecar& sidecar, const models::GraphSpec& graph,
                            const std::string& name, const ExportRequest& r) {
  StagedModel staged(r.output, name);
  const fs::path version = staged.path() / std::to_string(r.version);
  copy_file_to(onnx, version / "model.onnx");
  models::Sidecar narrowed = sidecar;
  narrowed.graphs = {graph};
  narrowed.graphs.front().file = "model.onnx";
  models::write_sidecar(version / "model.medport.json", narrowed);
  write_file_atomic(staged.path() / "config.pbtxt", model_config_pbtxt(name, graph, r.config));
  ExportedModel m{name, sidecar.family, r.output / name, relative_files(staged.path())};
  staged.commit(r.overwrite);
  return m;
}

std::vector<ExportedModel> export_folder(const fs::path& folder, const models::Sidecar& sidecar, const std::string& name,
                                         const ExportRequest& r) {
  std::vector<ExportedModel> out;
  const auto& primary = main_graph(sidecar, models::sidecar_path_for(folder).string());
  {
    StagedModel staged(r.output, name);
    const fs::path version = staged.path() / std::to_string(r.version);
    fs::create_directories(version);
    for (const auto& item : fs::directory_iterator(folder))
      if (item.is_regular_file()) copy_file_to(item.path(), version / item.path().filename());
    write_file_atomic(staged.path() / "config.pbtxt", model_config_pbtxt(name, primary, r.config, primary.file));
    out.push_back({name, sidecar.family, r.output / name, relative_files(staged.path())});
    staged.commit(r.overwrite);
  }
  for (const auto& g : sidecar.graphs) {
    if (&g == &primary) continue;
    out.push_back(export_single(folder / g.file, sidecar, g, name + "__" + g.name, r));
  }
  return out;
}

}  // namespace

std::string model_name_from(const fs::path& source) {
  fs::path p = source;
  if (p.filename().empty()) p = p.parent_path();
  std::string stem = fs::is_directory(p) ? p.filename().string() : p.stem().string();
  std::string out;
  for (char c : stem) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    out += ok ? c : '_';
  }
  while (!out.empty() && !((out[0] >= 'a' && out[0] <= 'z') || (out[0] >= 'A' && out[0] <= 'Z') || (out[0] >= '0' && out[0] <= '9')))
    out.erase(out.begin());
  if (out.size() > 100) out.resize(100);
  return out.empty() ? "model" : out;
}

std::vector<ExportedModel> export_repository(const ExportRequest& r) {
  if (r.sources.empty()) throw UsageError("give at least one converted model");
  if (!r.names.empty() && r.names.size() != r.sources.size())
    throw UsageError("--name must be given once per source (" + std::to_string(r.sources.size()) + " sources)");
  if (r.version < 1) throw UsageError("--version must be a positive integer");
  if (r.config.instance_kind != "KIND_CPU" && r.config.instance_kind != "KIND_GPU")
    throw UsageError("instance kind must be KIND_CPU or KIND_GPU");
  if (r.config.max_batch_size < 0 || r.config.instance_count < 1) throw UsageError("bad batch size or instance count");
  std::vector<std::string> names;
  for (std::size_t i = 0; i < r.sources.size(); ++i) {
    names.push_back(r.names.empty() ? model_name_from(r.sources[i]) : r.names[i]);
    check_model_name(names.back());
    for (std::size_t j = 0; j < i; ++j)
      if (names[j] == names[i]) throw UsageError("two sources give the model name '" + names[i] + "' (use --name)");
  }
  fs::create_directories(r.output);
  std::vector<ExportedModel> out;
  for (std::size_t i = 0; i < r.sources.size(); ++i) {
    const fs::path& source = r.sources[i];
    std::error_code ec;
    if (!fs::exists(source, ec)) throw InputError(source.string(), "no such file or folder");
    const models::Sidecar sidecar = models::read_sidecar(source);
    if (sidecar.format != "onnx")
      throw InputError(models::sidecar_path_for(source).string(),
                       "is a '" + sidecar.format + "' export; Triton's onnxruntime backend serves ONNX models");
    std::vector<ExportedModel> written;
    if (fs::is_directory(source, ec)) {
      written = export_folder(source, sidecar, names[i], r);
    } else {
      if (sidecar.graphs.size() != 1)
        throw InputError(models::sidecar_path_for(source).string(), "a model file's sidecar must list exactly one graph");
      written.push_back(export_single(source, sidecar, sidecar.graphs.front(), names[i], r));
    }
    out.insert(out.end(), written.begin(), written.end());
  }
  return out;
}

}  // namespace medport::triton
