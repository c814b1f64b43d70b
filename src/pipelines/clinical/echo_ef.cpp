#include "medport/pipelines/clinical/echo_ef.hpp"

#include "medport/error.hpp"
#include "medport/metrics/camus_ef.hpp"
#include "medport/metrics/ef_plausibility.hpp"

namespace medport::pipelines::clinical {
namespace {

using json = nlohmann::ordered_json;

// The volume fields both methods report (BiplaneVolumes and SinglePlaneVolumes share them).
void put_volumes(json& out, const auto& v) {
  out["EDV_mL"] = v.edv_ml;
  out["ESV_mL"] = v.esv_ml;
  out["EF_percent"] = v.ef_percent;
  out["EDV_mL_unrounded"] = v.edv_ml_unrounded;
  out["ESV_mL_unrounded"] = v.esv_ml_unrounded;
}

std::string source_of(const std::map<std::string, std::string>& sources, const std::string& key) {
  const auto it = sources.find(key);
  return it != sources.end() ? it->second : key + " LV mask";
}

}  // namespace

ViewMasks lv_masks(const ViewMasks& label_maps, int label) {
  ViewMasks out;
  for (const auto& [key, map] : label_maps) out.emplace(key, imaging::binary_mask(map, static_cast<std::uint8_t>(label)));
  return out;
}

EjectionFraction measure_ejection_fraction(const ViewMasks& given, const std::map<std::string, std::string>& sources) {
  // Specks besides the cavity (a network's stray pixels) are removed and reported; the volumes
  // are those of the largest region.
  ViewMasks masks = given;
  json fragments = json::object();
  for (auto& [key, mask] : masks)
    if (mask.ndim() == 2)
      if (const auto removed = metrics::keep_largest_lv_region(mask, source_of(sources, key)); removed > 0)
        fragments[key] = removed;
  const bool has_2ch = masks.count("2CH_ED") && masks.count("2CH_ES");
  const bool has_4ch = masks.count("4CH_ED") && masks.count("4CH_ES");
  if (!has_2ch && !has_4ch) {
    std::string found;
    for (const auto& [key, mask] : masks) found += (found.empty() ? "" : ", ") + key;
    throw InputError("echo-ef", "need ED and ES masks of the 2CH and/or 4CH view; found " + (found.empty() ? "none" : found));
  }
  // Checked and measured in key order, so the first bad mask is the one named; then ED and ES of
  // each view must come from one acquisition (docs/CLINICAL.md, "Refused inputs").
  std::map<std::string, metrics::LvDiameters> diameters;
  for (const auto& [key, mask] : masks)
    if ((key[0] == '2' && has_2ch) || (key[0] == '4' && has_4ch)) {
      metrics::check_lv_mask(mask, source_of(sources, key));
      diameters.emplace(key, metrics::measure_lv_diameters(mask, source_of(sources, key)));
    }
  for (const std::string view : {"2CH", "4CH"})
    if (diameters.count(view + "_ED") && diameters.count(view + "_ES"))
      metrics::check_same_acquisition(masks.at(view + "_ED"), source_of(sources, view + "_ED"), masks.at(view + "_ES"),
                                      source_of(sources, view + "_ES"));

  EjectionFraction ef;
  json& out = ef.fields;
  if (has_2ch && has_4ch) {
    const auto v = metrics::biplane_simpson(diameters.at("2CH_ED"), diameters.at("2CH_ES"), diameters.at("4CH_ED"),
                                            diameters.at("4CH_ES"));
    out["method"] = "biplane_method_of_disks";
    out["views"] = json::array({"2CH", "4CH"});
    put_volumes(out, v);
    out["disk_height_mm"] = v.disk_height_mm;
    ef.method_line = "CAMUS biplane method of disks (2CH + 4CH, 20 disks)";
  } else {
    const std::string view = has_2ch ? "2CH" : "4CH";
    const auto v = metrics::single_plane_area_length(masks.at(view + "_ED"), masks.at(view + "_ES"));
    out["method"] = "single_plane_area_length";
    out["views"] = json::array({view});
    out["fallback"] = "only the " + view + " view has ED and ES masks; biplane needs 2CH and 4CH";
    put_volumes(out, v);
    ef.method_line = "FALLBACK single-plane area-length, " + view + " only (biplane needs both 2CH and 4CH)";
  }
  auto warnings = metrics::check_volumes(out["EDV_mL"].get<double>(), out["ESV_mL"].get<double>(),
                                        source_of(sources, diameters.begin()->first));
  if (!fragments.empty()) {
    warnings.push_back("lv_fragments_removed");
    out["lv_fragments_removed_pixels"] = fragments;
  }
  out["warnings"] = warnings;
  return ef;
}

}  // namespace medport::pipelines::clinical
