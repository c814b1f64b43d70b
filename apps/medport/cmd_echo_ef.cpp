// `medport echo-ef`: LV end-diastolic/end-systolic volumes and ejection fraction from the four
// apical masks of one patient (2CH/4CH x ED/ES) by the official CAMUS biplane method of disks;
// with a single complete view, the single-plane area-length method instead (labelled as such).
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <regex>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "echo_ef_exports.hpp"
#include "medport/error.hpp"
#include "medport/metrics/camus_ef.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/phantom/views.hpp"
#include "medport/util/file_io.hpp"

namespace {

namespace fs = std::filesystem;
namespace clinical = medport::pipelines::clinical;
namespace imaging = medport::imaging;
using json = nlohmann::ordered_json;
using medport::InputError;
using medport::UsageError;

struct EchoEfArgs {
  std::vector<std::string> inputs;
  std::string a2c_ed, a2c_es, a4c_ed, a4c_es;
  int label = 1;
  std::string spacing, spacing_a2c, spacing_a4c;
  std::string suffix = "any";
  std::string json_path;
  medport::cli::EchoExports exports;  // --dicom-sr, --dicom-source, --fhir
};

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

ViewFiles collect_files(const EchoEfArgs& args) {
  ViewFiles files;
  for (const auto& input : args.inputs) {
    const fs::path path(input);
    if (fs::is_directory(path)) {
      for (const auto& file : imaging::label_map_files(path))
        if (suffix_accepted(file, args.suffix))
          if (const auto key = view_key(file)) add_file(files, file, *key);
    } else {
      if (!fs::exists(path)) throw InputError(input, "no such file or folder");
      const auto key = view_key(path);
      if (!key) throw UsageError(input + ": cannot tell the view from the name (expected ..._2CH_ED..., "
                                 "..._4CH_ES...); name it with --a2c-ed/--a2c-es/--a4c-ed/--a4c-es");
      add_file(files, path, *key);
    }
  }
  const std::array<std::pair<const std::string*, const char*>, 4> explicit_files = {
      {{&args.a2c_ed, "2CH_ED"}, {&args.a2c_es, "2CH_ES"}, {&args.a4c_ed, "4CH_ED"}, {&args.a4c_es, "4CH_ES"}}};
  for (const auto& [file, key] : explicit_files)
    if (!file->empty()) files[key] = *file;
  return files;
}

// Spacing for a view: --spacing-a2c/--spacing-a4c, then --spacing, then spacing.json beside the
// file ({"2CH": [row, col], "4CH": [row, col]}); nullopt means "the file's own".
std::optional<std::vector<double>> spacing_override(const EchoEfArgs& args, const std::string& view,
                                                    const fs::path& file) {
  const std::string& specific = view == "2CH" ? args.spacing_a2c : args.spacing_a4c;
  if (!specific.empty()) return imaging::parse_spacing(specific, 2, 2);
  if (!args.spacing.empty()) return imaging::parse_spacing(args.spacing, 2, 2);
  return clinical::spacing_from_sidecar(file, view);
}

struct LoadedMask {
  medport::imaging::LabelImage mask;
  medport::metrics::LvDiameters diameters;  // measured once: validates the mask and feeds the biplane method
  fs::path file;
};

LoadedMask load_mask(const EchoEfArgs& args, const std::string& key, const fs::path& file) {
  const std::string view = key.substr(0, 3);
  const auto spacing = spacing_override(args, view, file);
  auto loaded = imaging::read_label_map(file, spacing);
  if (loaded.image.ndim() != 2) throw InputError(file.string(), "echo-ef needs 2D masks");
  if (!spacing && !loaded.spacing_from_file)
    throw UsageError(file.string() + ": this format carries no pixel spacing; pass --spacing ROW,COL (or "
                     "--spacing-a2c / --spacing-a4c) or put a spacing.json beside it");
  auto mask = medport::imaging::binary_mask(loaded.image, static_cast<std::uint8_t>(args.label));
  // Fails early with the file's name when the mask is empty or has no base.
  auto diameters = medport::metrics::measure_lv_diameters(mask, file.string());
  return {std::move(mask), std::move(diameters), file};
}

std::string patient_name(const fs::path& file) {
  const std::string stem = imaging::stem_without_ending(file);
  static const std::regex pattern("_[24]ch_(ed|es).*$", std::regex::icase);
  const std::string name = std::regex_replace(stem, pattern, "");
  return name.empty() ? stem : name;
}

// The volume fields both methods report (BiplaneVolumes and SinglePlaneVolumes share them).
void put_volumes(json& out, const auto& v) {
  out["EDV_mL"] = v.edv_ml;
  out["ESV_mL"] = v.esv_ml;
  out["EF_percent"] = v.ef_percent;
  out["EDV_mL_unrounded"] = v.edv_ml_unrounded;
  out["ESV_mL_unrounded"] = v.esv_ml_unrounded;
}

json spacing_json(const medport::imaging::LabelImage& image) {
  return json::array({image.spacing_at(0), image.spacing_at(1)});
}

int run(const EchoEfArgs& args) {
  if (args.inputs.empty() && args.a2c_ed.empty() && args.a2c_es.empty() && args.a4c_ed.empty() && args.a4c_es.empty())
    throw UsageError("give a patient folder, the mask files, or --a2c-ed/--a2c-es/--a4c-ed/--a4c-es");
  const ViewFiles files = collect_files(args);
  const bool has_2ch = files.count("2CH_ED") && files.count("2CH_ES");
  const bool has_4ch = files.count("4CH_ED") && files.count("4CH_ES");
  if (!has_2ch && !has_4ch) {
    std::string found;
    for (const auto& [key, file] : files) found += (found.empty() ? "" : ", ") + key;
    throw InputError(args.inputs.empty() ? std::string("echo-ef") : args.inputs.front(),
                     "need ED and ES masks of the 2CH and/or 4CH view; found " + (found.empty() ? "none" : found));
  }
  std::map<std::string, LoadedMask> masks;
  for (const auto& [key, file] : files)
    if ((key[0] == '2' && has_2ch) || (key[0] == '4' && has_4ch)) masks.emplace(key, load_mask(args, key, file));

  json out;
  out["patient"] = patient_name(masks.begin()->second.file);
  out["label"] = args.label;
  json file_list = json::object();
  for (const auto& [key, m] : masks) file_list[key] = m.file.string();
  out["files"] = file_list;
  if (has_2ch) out["spacing_2CH_mm_row_col"] = spacing_json(masks.at("2CH_ED").mask);
  if (has_4ch) out["spacing_4CH_mm_row_col"] = spacing_json(masks.at("4CH_ED").mask);
  std::string method_line;
  if (has_2ch && has_4ch) {
    const auto v = medport::metrics::biplane_simpson(masks.at("2CH_ED").diameters, masks.at("2CH_ES").diameters,
                                                     masks.at("4CH_ED").diameters, masks.at("4CH_ES").diameters);
    out["method"] = "biplane_method_of_disks";
    out["views"] = json::array({"2CH", "4CH"});
    put_volumes(out, v);
    out["disk_height_mm"] = v.disk_height_mm;
    method_line = "CAMUS biplane method of disks (2CH + 4CH, 20 disks)";
  } else {
    const std::string view = has_2ch ? "2CH" : "4CH";
    const auto v = medport::metrics::single_plane_area_length(masks.at(view + "_ED").mask, masks.at(view + "_ES").mask);
    out["method"] = "single_plane_area_length";
    out["views"] = json::array({view});
    out["fallback"] = "only the " + view + " view has ED and ES masks; biplane needs 2CH and 4CH";
    put_volumes(out, v);
    method_line = "FALLBACK single-plane area-length, " + view + " only (biplane needs both 2CH and 4CH)";
  }
  std::printf("%s: %s\n", out["patient"].get<std::string>().c_str(), method_line.c_str());
  std::printf("  EDV %6.0f mL\n  ESV %6.0f mL\n  EF  %6.1f %%\n", out["EDV_mL"].get<double>(),
              out["ESV_mL"].get<double>(), out["EF_percent"].get<double>());
  if (!args.json_path.empty()) {
    json clean = out;
    if (!std::isfinite(out["EF_percent"].get<double>())) clean["EF_percent"] = nullptr;
    medport::write_file_atomic(args.json_path, clean.dump(2) + "\n");
  }
  medport::cli::write_echo_exports(args.exports, {out["EDV_mL"].get<double>(), out["ESV_mL"].get<double>(),
                                                  out["EF_percent"].get<double>(), method_line});
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  auto args = std::make_shared<EchoEfArgs>();
  auto* cmd = root.add_subcommand("echo-ef", "LV volumes and ejection fraction from apical 2CH/4CH ED/ES masks (CAMUS)");
  cmd->add_option("inputs", args->inputs,
                  "a patient folder (files named *_2CH_ED_gt.*, *_4CH_ES_seg.*, ...) or mask files");
  cmd->add_option("--a2c-ed", args->a2c_ed, "2-chamber end-diastole mask");
  cmd->add_option("--a2c-es", args->a2c_es, "2-chamber end-systole mask");
  cmd->add_option("--a4c-ed", args->a4c_ed, "4-chamber end-diastole mask");
  cmd->add_option("--a4c-es", args->a4c_es, "4-chamber end-systole mask");
  cmd->add_option("--label", args->label, "label value of the LV cavity")->check(CLI::Range(1, 255));
  cmd->add_option("--spacing", args->spacing, "pixel spacing ROW,COL in mm for every view (replaces the files')");
  cmd->add_option("--spacing-a2c", args->spacing_a2c, "pixel spacing ROW,COL in mm of the 2CH masks");
  cmd->add_option("--spacing-a4c", args->spacing_a4c, "pixel spacing ROW,COL in mm of the 4CH masks");
  cmd->add_option("--suffix", args->suffix, "in folders, use *_gt files, *_seg files or either")
      ->check(CLI::IsMember({"gt", "seg", "any"}));
  cmd->add_option("--json", args->json_path, "also write the result as JSON");
  medport::cli::add_echo_export_flags(*cmd, args->exports);
  return [args] {
    medport::cli::check_echo_exports(args->exports);
    return run(*args);
  };
}

}  // namespace
MEDPORT_COMMAND(setup);
