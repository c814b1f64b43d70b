#pragma once
// What echo-ef refuses before (and after) measuring, because a number computed from it would be
// clinically meaningless yet look like a result (docs/CLINICAL.md, "Refused inputs"):
//  - ED and ES masks of one view with different sizes or spacings (not the same acquisition);
//  - a pixel spacing outside [kMinSpacingMm, kMaxSpacingMm] or an image wider than kMaxFieldOfViewMm;
//  - an LV cavity smaller than kMinLvPixels pixels or kMinLvAreaMm2 mm^2 (a speck, not a ventricle);
//  - an LV label covering more than kMaxLvImageFraction of the image (not a cavity);
//  - LV fragments besides the largest region that together exceed kMaxLvFragmentFraction of it
//    (smaller ones - specks a network left - are removed and reported);
//  - a volume above kMaxVolumeMl.
// ESV > EDV (a negative EF, usually ED and ES swapped) is reported, flagged in `warnings`.
#include <string>
#include <vector>

#include "medport/imaging/label_image.hpp"

namespace medport::metrics {

inline constexpr double kMinSpacingMm = 0.01;
inline constexpr double kMaxSpacingMm = 5.0;
inline constexpr double kMaxFieldOfViewMm = 600.0;
inline constexpr std::int64_t kMinLvPixels = 50;
inline constexpr double kMinLvAreaMm2 = 100.0;
inline constexpr double kMaxVolumeMl = 1000.0;
inline constexpr double kMaxLvImageFraction = 0.5;
inline constexpr double kMaxLvFragmentFraction = 0.2;

// One binary LV mask (non-zero = cavity) with its (row, col) spacing. Throws InputError naming
// `source`.
void check_lv_mask(const imaging::LabelImage& mask, const std::string& source);
// Keeps the largest 8-connected region of a binary LV mask and returns how many pixels of other
// regions were removed; InputError naming `source` when those exceed kMaxLvFragmentFraction of
// the largest (the label does not mark one cavity).
std::int64_t keep_largest_lv_region(imaging::LabelImage& mask, const std::string& source);
// The ED and ES masks of one view. Throws InputError naming the ES file.
void check_same_acquisition(const imaging::LabelImage& ed, const std::string& ed_source,
                            const imaging::LabelImage& es, const std::string& es_source);
// Throws InputError naming `source` for a volume above kMaxVolumeMl; returns the warnings
// ("esv_exceeds_edv") for a result that is reported but suspicious.
std::vector<std::string> check_volumes(double edv_ml, double esv_ml, const std::string& source);

}  // namespace medport::metrics
