#include "medport/pipelines/batch/cases.hpp"

#include <algorithm>
#include <map>

#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"

namespace medport::pipelines::batch {

namespace fs = std::filesystem;

std::string case_name_for(const fs::path& input) {
  std::string name = input.filename().string();
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* suffix : {".npy", ".nii.gz", ".nii", ".mha", ".mhd", ".png", ".jpg", ".jpeg", ".bmp", ".tiff", ".tif", ".dcm"})
    if (lower.size() > std::string(suffix).size() && lower.ends_with(suffix)) {
      name.resize(name.size() - std::string(suffix).size());
      break;
    }
  return name;
}

std::vector<fs::path> image_files_in(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw InputError(folder.string(), "is not a folder");
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(folder)) {
    if (!e.is_regular_file() || e.path().filename().string().starts_with(".")) continue;
    try {
      imaging::format_from_path(e.path());
      if (e.path().extension() != ".raw") found.push_back(e.path());
    } catch (const InputError&) {
    }  // not an image: ignored
  }
  std::sort(found.begin(), found.end());
  return found;
}

void check_case_names(std::span<const BatchCase> cases, std::span<const std::string> reserved) {
  std::map<std::string, fs::path> seen;
  for (const auto& c : cases) {
    const fs::path first = c.files.empty() ? fs::path(c.name) : c.files.front();
    if (std::find(reserved.begin(), reserved.end(), c.name) != reserved.end())
      throw UsageError(first.string() + ": the case name '" + c.name + "' is reserved");
    const auto [it, inserted] = seen.emplace(c.name, first);
    if (!inserted)
      throw UsageError("inputs " + it->second.string() + " and " + first.string() + " would both write case '" + c.name + "'");
  }
}

std::vector<BatchCase> filter_cases(std::span<const BatchCase> cases, const std::function<bool(const BatchCase&)>& keep) {
  std::vector<BatchCase> out;
  std::copy_if(cases.begin(), cases.end(), std::back_inserter(out), keep);
  return out;
}

fs::path done_marker(const fs::path& output_dir, const std::string& case_name) {
  return output_dir / (case_name + ".json");
}

bool is_done(const fs::path& output_dir, const std::string& case_name) {
  std::error_code ec;
  return fs::exists(done_marker(output_dir, case_name), ec);
}

}  // namespace medport::pipelines::batch
