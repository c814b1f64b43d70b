#include <algorithm>
#include <regex>

#include "medport/error.hpp"
#include "medport/models/nnunet/model.hpp"

namespace medport::models::nnunet {
namespace {

namespace fs = std::filesystem;

// Absolute, normalized, without a trailing separator ("fold_0/" -> ".../fold_0").
fs::path clean(const fs::path& p) {
  fs::path c = fs::absolute(p).lexically_normal();
  if (c.filename().empty() && c.has_parent_path()) c = c.parent_path();
  return c;
}

bool is_model_folder(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "plans.json", ec) && fs::is_regular_file(dir / "dataset.json", ec);
}

std::optional<int> fold_of_folder_name(const fs::path& dir) {
  static const std::regex fold_re(R"(fold_(\d{1,4}))");
  std::smatch m;
  const std::string name = clean(dir).filename().string();
  if (std::regex_match(name, m, fold_re)) return std::stoi(m[1].str());
  return std::nullopt;
}

std::vector<fs::path> fold_folders(const fs::path& model_folder) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(model_folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && name.rfind("fold_", 0) == 0) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string checkpoint_file_name(const std::string& kind) {
  if (kind == "final") return "checkpoint_final.pth";
  if (kind == "best") return "checkpoint_best.pth";
  throw UsageError("--checkpoint must be 'final' or 'best', not '" + kind + "'");
}

// checkpoint_<kind>.pth, or its safetensors export checkpoint_<kind>.safetensors.
fs::path checkpoint_in_fold(const fs::path& fold_dir, const std::string& kind) {
  const fs::path p = fold_dir / checkpoint_file_name(kind);
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p;
  fs::path st = p;
  st.replace_extension(".safetensors");
  if (fs::is_regular_file(st, ec)) return st;
  std::string present;
  for (const auto& entry : fs::directory_iterator(fold_dir, ec))
    if (entry.path().extension() == ".pth" || entry.path().extension() == ".safetensors")
      present += (present.empty() ? "" : ", ") + entry.path().filename().string();
  throw InputError(fold_dir.string(), "no " + p.filename().string() + " (or .safetensors) in this fold folder" +
                                          (present.empty() ? std::string() : " (found: " + present + ")"));
}

}  // namespace

bool looks_like_nnunet_source(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    return is_model_folder(path) || fold_of_folder_name(path) || fs::is_regular_file(path / "checkpoint_final.pth", ec) ||
           fs::is_regular_file(path / "checkpoint_best.pth", ec) ||
           fs::is_regular_file(path / "checkpoint_final.safetensors", ec);
  return path.extension() == ".pth" || path.extension() == ".safetensors";
}

LocatedSource locate_source(const SourceRequest& request) {
  const fs::path& src = request.source;
  std::error_code ec;
  checkpoint_file_name(request.checkpoint);  // validates the kind early
  LocatedSource out;
  if (fs::is_regular_file(src, ec)) {
    out.checkpoint = src;
    const fs::path parent = clean(src).parent_path();
    out.fold = fold_of_folder_name(parent);
    const fs::path grandparent = parent.parent_path();
    if (is_model_folder(parent))
      out.model_folder = parent;
    else if (out.fold && is_model_folder(grandparent))
      out.model_folder = grandparent;
    if (request.fold && out.fold && *request.fold != *out.fold)
      throw UsageError("--fold " + std::to_string(*request.fold) + " contradicts " + src.string() + " (fold " +
                       std::to_string(*out.fold) + ")");
    return out;
  }
  if (!fs::is_directory(src, ec)) throw InputError(src.string(), "no such file or folder");
  if (is_model_folder(src)) {
    out.model_folder = src;
    const auto folds = fold_folders(src);
    if (folds.empty()) throw InputError(src.string(), "model folder has no fold_* subfolder");
    fs::path chosen;
    if (request.fold) {
      chosen = src / ("fold_" + std::to_string(*request.fold));
      if (!fs::is_directory(chosen, ec)) {
        std::string have;
        for (const auto& f : folds) have += (have.empty() ? "" : ", ") + f.filename().string();
        throw InputError(src.string(), "no fold_" + std::to_string(*request.fold) + " (have: " + have + ")");
      }
    } else if (folds.size() == 1) {
      chosen = folds.front();
    } else {
      std::string have;
      for (const auto& f : folds) have += (have.empty() ? "" : ", ") + f.filename().string();
      throw UsageError(src.string() + " has several folds (" + have + "): choose one with --fold N");
    }
    out.fold = fold_of_folder_name(chosen);
    out.checkpoint = checkpoint_in_fold(chosen, request.checkpoint);
    return out;
  }
  // A fold folder.
  out.checkpoint = checkpoint_in_fold(src, request.checkpoint);
  out.fold = fold_of_folder_name(src);
  if (request.fold && out.fold && *request.fold != *out.fold)
    throw UsageError("--fold " + std::to_string(*request.fold) + " contradicts " + src.string());
  const fs::path parent = clean(src).parent_path();
  if (is_model_folder(parent)) out.model_folder = parent;
  return out;
}

LocatedSource locate_source(const fs::path& source) {
  SourceRequest request;
  request.source = source;
  return locate_source(request);
}

}  // namespace medport::models::nnunet
