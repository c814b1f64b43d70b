#pragma once
// Left-ventricle volumes and ejection fraction from apical 2D echocardiography masks, by the
// official CAMUS code (script_camus_ef; the same as vital's metrics/evaluate/clinical/heart_us.py):
// biplane Simpson's method of disks with 20 disks and a disk height shared by ED and ES.
// Reproduced step by step so the integer volumes match the reference exactly:
//  1. the binary mask is made isotropic (PIL nearest resize to spacing min(row, col)),
//  2. contour = skimage find_contours(mask, 0.5)[0],
//  3. base = the longest chord (i, j), j < i, whose direction from point i to point j is within
//     45 degrees of +column and whose intermediate contour points all lie within 8 px of it;
//     base midpoint = contour[j + round((i - j) / 2)]; apex = the contour point farthest from it,
//  4. at fractions k/20 (k = 0..19) from the midpoint towards the apex, the half-widths are found
//     by stepping along +-normal from 8 px in 0.5 px steps until leaving the mask or the image,
//  5. h = max of the four long axes / 20, V = pi/4 * h * sum(a_i * b_i), rounded (half to even)
//     to whole mL, EF = 100 * (EDV - ESV) / EDV.
#include <array>
#include <string>

#include "medport/imaging/label_image.hpp"

namespace medport::metrics {

// One view's measurement, in mm (isotropic resampled frame).
struct LvDiameters {
  std::array<double, 20> diameters_mm{};  // disk diameters from base (k = 0) towards the apex
  double long_axis_mm = 0.0;             // base midpoint -> apex
  double disk_height_mm = 0.0;           // long_axis_mm / 20
  double isotropic_spacing_mm = 0.0;
};

// Measures one binary LV mask (non-zero = LV cavity; use imaging::binary_mask to extract
// label 1 of a CAMUS label map). `mask.spacing` = (row, col) mm. Throws InputError naming
// `source` when the mask is empty or no base chord can be found.
LvDiameters measure_lv_diameters(const imaging::LabelImage& mask, const std::string& source = "LV mask");

struct BiplaneVolumes {
  double edv_ml = 0.0;          // integer-valued (rounded half to even like Python's round)
  double esv_ml = 0.0;
  double ef_percent = 0.0;      // 100 * (EDV - ESV) / EDV, NaN when EDV is 0
  double edv_ml_unrounded = 0.0;
  double esv_ml_unrounded = 0.0;
  double disk_height_mm = 0.0;  // the shared h
};

// Biplane Simpson from the four LV masks (2CH/4CH at ED/ES), each with its (row, col) spacing.
BiplaneVolumes biplane_simpson(const imaging::LabelImage& a2c_ed, const imaging::LabelImage& a2c_es,
                               const imaging::LabelImage& a4c_ed, const imaging::LabelImage& a4c_es);
// Same from already measured views.
BiplaneVolumes biplane_simpson(const LvDiameters& a2c_ed, const LvDiameters& a2c_es, const LvDiameters& a4c_ed,
                               const LvDiameters& a4c_es);

// Single-plane area-length fallback (one apical view only): V = 8 A^2 / (3 pi L) with A the
// mask area in mm^2 (pixel count x row spacing x col spacing, original grid) and L the long
// axis found as in the biplane method (base midpoint -> apex). Volume in mL, not rounded.
double area_length_volume_ml(const imaging::LabelImage& mask, const std::string& source = "LV mask");

struct SinglePlaneVolumes {
  double edv_ml = 0.0;  // rounded half to even to whole mL, like the biplane volumes
  double esv_ml = 0.0;
  double ef_percent = 0.0;
  double edv_ml_unrounded = 0.0;
  double esv_ml_unrounded = 0.0;
};
SinglePlaneVolumes single_plane_area_length(const imaging::LabelImage& ed, const imaging::LabelImage& es);

}  // namespace medport::metrics
