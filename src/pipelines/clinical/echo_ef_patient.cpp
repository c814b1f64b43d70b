#include "medport/pipelines/clinical/echo_ef_patient.hpp"

#include <cctype>
#include <regex>

#include "medport/error.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/clinical/echo_ef.hpp"
#include "medport/pipelines/phantom/views.hpp"

namespace medport::pipelines::clinical {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// "<view>_<phase>" keys, e.g. "2CH_ED".
using ViewFiles = std::map<std::string, fs::path>;

// View and phase from a name such as "patient0001_2CH_ED_gt" or "p_4ch_es_seg".
std::optional<std::string> view_key(const fs::path& file) {
  static const std::regex pattern("(?:^|_)([24])ch_(ed|es)(?:_|$)", std::regex::icase);
  std::smatch m;
  const std::string stem = imaging::stem_without_ending(file);
  if (!std::regex_search(stem, m, pattern)) return std::nullopt;
  std::string phase = m[2].str();
  for (auto& ch : phase) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return m[1].str() + "CH_" + phase;
}

bool suffix_accepted(const fs::path& file, const std::string& suffix) {
  const std::string stem = imaging::stem_without_ending(file);
  auto ends = [&](const std::string& s) {
    return stem.size() > s.size() && stem.compare(stem.size() - s.size(), s.size(), s) == 0;
  };
  if (suffix == "gt") return ends("_gt");
  if (suffix == "seg") return ends("_seg");
  return ends("_gt") || ends("_seg");
}

void add_file(ViewFiles& files, const fs::path& file, const std::string& key) {
  const auto [it, inserted] = files.emplace(key, file);
  if (!inserted && it->second != file)
    throw UsageError("two files for " + key + ": " + it->second.string() + " and " + file.string() +
                     " (pick one with --suffix gt|seg or name the files with --a2c-ed ...)");
}

ViewFiles collect_files(const PatientMasksRequest& request) {
  ViewFiles files;
  for (const auto& path : request.inputs) {
    if (fs::is_directory(path)) {
      for (const auto& file : imaging::label_map_files(path))
        if (suffix_accepted(file, request.suffix))
          if (const auto key = view_key(file)) add_file(files, file, *key);
    } else {
      if (!fs::exists(path)) throw InputError(path.string(), "no such file or folder");
      const auto key = view_key(path);
      if (!key)
        throw UsageError(path.string() + ": cannot tell the view from the name (expected ..._2CH_ED..., "
                                         "..._4CH_ES...); name it with --a2c-ed/--a2c-es/--a4c-ed/--a4c-es");
      add_file(files, path, *key);
    }
  }
  for (const auto& [key, file] : request.files) files[key] = file;
  return files;
}

imaging::LabelImage load_lv_mask(const PatientMasksRequest& request, const std::string& view, const fs::path& file) {
  const auto given = request.spacing.find(view);
  // Spacing: the request's for the view, then spacing.json beside the file; nullopt: the file's own.
  const auto spacing = given != request.spacing.end() ? std::optional(given->second) : spacing_from_sidecar(file, view);
  auto loaded = imaging::read_label_map(file, spacing);
  if (loaded.image.ndim() != 2) throw InputError(file.string(), "echo-ef needs 2D masks");
  if (!spacing && !loaded.spacing_from_file)
    throw UsageError(file.string() + ": this format carries no pixel spacing; pass --spacing ROW,COL (or "
                     "--spacing-a2c / --spacing-a4c) or put a spacing.json beside it");
  return imaging::binary_mask(loaded.image, static_cast<std::uint8_t>(request.label));
}

std::string patient_name(const fs::path& file) {
  const std::string stem = imaging::stem_without_ending(file);
  static const std::regex pattern("_[24]ch_(ed|es).*$", std::regex::icase);
  const std::string name = std::regex_replace(stem, pattern, "");
  return name.empty() ? stem : name;
}

}  // namespace

PatientEf measure_patient(const PatientMasksRequest& request) {
  const ViewFiles files = collect_files(request);
  const bool has_2ch = files.count("2CH_ED") && files.count("2CH_ES");
  const bool has_4ch = files.count("4CH_ED") && files.count("4CH_ES");
  if (!has_2ch && !has_4ch) {
    std::string found;
    for (const auto& [key, file] : files) found += (found.empty() ? "" : ", ") + key;
    throw InputError(request.inputs.empty() ? std::string("echo-ef") : request.inputs.front().string(),
                     "need ED and ES masks of the 2CH and/or 4CH view; found " + (found.empty() ? "none" : found));
  }
  ViewMasks masks;
  std::map<std::string, std::string> sources;
  for (const auto& [key, file] : files)
    if ((key[0] == '2' && has_2ch) || (key[0] == '4' && has_4ch)) {
      masks.emplace(key, load_lv_mask(request, key.substr(0, 3), file));
      sources.emplace(key, file.string());
    }

  PatientEf report;
  json& out = report.fields;
  out["patient"] = patient_name(files.at(masks.begin()->first));
  out["label"] = request.label;
  out["files"] = sources;
  for (const std::string view : {"2CH", "4CH"})
    if (masks.count(view + "_ED")) {
      const auto& mask = masks.at(view + "_ED");
      out["spacing_" + view + "_mm_row_col"] = json::array({mask.spacing_at(0), mask.spacing_at(1)});
    }
  auto ef = measure_ejection_fraction(masks, sources);
  out.update(ef.fields);
  report.method_line = std::move(ef.method_line);
  return report;
}

}  // namespace medport::pipelines::clinical
