#pragma once
// The measurement `medport echo-ef` and the server's POST /v1/echo/ef share: LV masks of the
// apical views in, EDV/ESV/EF out (CAMUS biplane method of disks with 2CH and 4CH, the
// single-plane area-length fallback with one view), as the JSON fields both report.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "medport/imaging/label_image.hpp"

namespace medport::pipelines::clinical {

// "2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES".
using ViewMasks = std::map<std::string, imaging::LabelImage>;

struct EjectionFraction {
  // method, views, [fallback], EDV_mL, ESV_mL, EF_percent, EDV_mL_unrounded, ESV_mL_unrounded,
  // [disk_height_mm], warnings - in this order (EF_percent may be NaN when EDV is 0; warnings
  // lists "esv_exceeds_edv" for a result that is reported but suspicious).
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  std::string method_line;  // one human-readable line naming the method
};

// `masks`: binary LV masks (non-zero = cavity) with their (row, col) spacing in mm, of the views
// that have both ED and ES. `sources` names each mask in errors (e.g. its file). Both views:
// biplane; one view: area-length. Each mask's largest 8-connected region is measured; smaller
// ones are removed and reported (warning "lv_fragments_removed", pixels per view in
// "lv_fragments_removed_pixels"). InputError when neither view is complete, a mask has no LV or
// only a speck, ED and ES differ in size or spacing, or a volume is implausible
// (metrics/ef_plausibility.hpp).
EjectionFraction measure_ejection_fraction(const ViewMasks& masks, const std::map<std::string, std::string>& sources = {});

// The per-view LV masks both front ends measure: label `label` of each label map.
ViewMasks lv_masks(const ViewMasks& label_maps, int label);

}  // namespace medport::pipelines::clinical
