#include "medport/metrics/camus_ef.hpp"

#include <cmath>
#include <limits>
#include <numbers>

#include "medport/error.hpp"
#include "medport/metrics/contours.hpp"
#include "medport/util/numpy_compat.hpp"

namespace medport::metrics {
namespace {

constexpr int kDisks = 20;
constexpr double kMaxChordDeviationPx = 8.0;
constexpr double kEdgeSearchStartPx = 8.0;  // start inside to avoid stopping early at the base
constexpr double kEdgeSearchStepPx = 0.5;

double length(double dr, double dc) { return std::sqrt(dr * dr + dc * dc); }

struct BaseAndApex {
  std::size_t mid = 0;
  std::size_t apex = 0;
  double long_axis_px = 0.0;
};

// The longest acceptable base chord, its midpoint and the farthest contour point (apex).
BaseAndApex find_base_and_apex(const Contour& contour, const std::string& source) {
  const std::size_t n = contour.size();
  double best_length = 0.0;
  std::size_t best_i = 0;
  std::size_t best_j = 0;
  bool found = false;
  for (std::size_t i = 2; i < n; ++i) {
    const ContourPoint& p0 = contour[i];
    for (std::size_t j = 0; j < i; ++j) {
      const double dr = contour[j].row - p0.row;
      const double dc = contour[j].col - p0.col;
      // |atan2(dr, dc)| <= 45 degrees, decided exactly (the exact diagonal counts, the zero
      // vector of a closed contour's repeated end point can never win).
      if (!(dc > 0.0 && std::fabs(dr) <= dc)) continue;
      const double chord = length(dr, dc);
      if (!(best_length < chord)) continue;  // could not replace the current best
      bool close_to_chord = true;
      for (std::size_t k = j + 1; k < i; ++k) {
        const double br = p0.row - contour[k].row;
        const double bc = p0.col - contour[k].col;
        const double distance = std::fabs(dr * bc - dc * br) / chord;
        if (!(distance <= kMaxChordDeviationPx)) {
          close_to_chord = false;
          break;
        }
      }
      if (!close_to_chord) continue;
      const double distance = length(p0.row - contour[j].row, p0.col - contour[j].col);
      if (best_length < distance) {
        best_length = distance;
        best_i = i;
        best_j = j;
        found = true;
      }
    }
  }
  if (!found) throw InputError(source, "no base chord found on the LV contour (mask too small or malformed)");

  BaseAndApex result;
  result.mid = best_j + static_cast<std::size_t>(round_half_even(static_cast<double>(best_i - best_j) / 2.0));
  const ContourPoint& mid = contour[result.mid];
  for (std::size_t i = 0; i < n; ++i) {
    const double distance = length(mid.row - contour[i].row, mid.col - contour[i].col);
    if (result.long_axis_px < distance) {
      result.long_axis_px = distance;
      result.apex = i;
    }
  }
  return result;
}

double distance_to_edge(const imaging::LabelImage& mask, double row, double col, double normal_row,
                        double normal_col) {
  const std::int64_t rows = mask.shape[0];
  const std::int64_t cols = mask.shape[1];
  double distance = kEdgeSearchStartPx;
  while (true) {
    const double y = round_half_even(row + distance * normal_row);
    const double x = round_half_even(col + distance * normal_col);
    if (!(y >= 0.0 && y < static_cast<double>(rows) && x >= 0.0 && x < static_cast<double>(cols))) return distance;
    if (mask.at(static_cast<std::int64_t>(y), static_cast<std::int64_t>(x)) == 0) return distance;
    distance += kEdgeSearchStepPx;
  }
}

imaging::LabelImage binarised(const imaging::LabelImage& mask, const std::string& source) {
  mask.validate(source);
  if (mask.ndim() != 2) throw InputError(source, "the LV mask must be 2D");
  imaging::LabelImage binary = mask;
  bool any = false;
  for (auto& value : binary.labels) {
    value = value != 0 ? 1 : 0;
    any = any || value != 0;
  }
  if (!any) throw InputError(source, "the LV mask is empty");
  return binary;
}

double volume_ml(const std::array<double, kDisks>& a2c_mm, const std::array<double, kDisks>& a4c_mm,
                 double disk_height_mm) {
  // Same operation order as the reference: metres, products, np.sum, * h * pi / 4, to mL.
  std::array<double, kDisks> products{};
  for (int k = 0; k < kDisks; ++k) products[k] = (a2c_mm[k] / 1000.0) * (a4c_mm[k] / 1000.0);
  const double cubic_metres = numpy_pairwise_sum(products.data(), products.size()) * (disk_height_mm / 1000.0) *
                              std::numbers::pi / 4.0;
  return cubic_metres * 1e6;
}

double ejection_fraction(double edv, double esv) {
  if (edv == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return 100.0 * (edv - esv) / edv;
}

}  // namespace

LvDiameters measure_lv_diameters(const imaging::LabelImage& mask, const std::string& source) {
  const auto binary = binarised(mask, source);
  const auto [iso_mask, iso_spacing] = resize_to_isotropic(binary);
  const auto contours = find_contours(iso_mask, 0.5);
  if (contours.empty()) throw InputError(source, "the LV mask has no contour after resampling");
  const Contour& contour = contours.front();
  const auto base = find_base_and_apex(contour, source);

  const ContourPoint& mid = contour[base.mid];
  const double dir_row = contour[base.apex].row - mid.row;
  const double dir_col = contour[base.apex].col - mid.col;
  const double normal_norm = length(-dir_col, dir_row);
  const double normal_row = -dir_col / normal_norm;
  const double normal_col = dir_row / normal_norm;

  LvDiameters result;
  result.isotropic_spacing_mm = iso_spacing;
  for (int k = 0; k < kDisks; ++k) {
    const double fraction = static_cast<double>(k) * (1.0 / kDisks);
    const double row = mid.row + dir_row * fraction;
    const double col = mid.col + dir_col * fraction;
    const double forward = distance_to_edge(iso_mask, row, col, normal_row, normal_col);
    const double backward = distance_to_edge(iso_mask, row, col, -normal_row, -normal_col);
    result.diameters_mm[static_cast<std::size_t>(k)] = (forward + backward) * iso_spacing;
  }
  result.long_axis_mm = base.long_axis_px * iso_spacing;
  result.disk_height_mm = result.long_axis_mm / kDisks;
  return result;
}

BiplaneVolumes biplane_simpson(const LvDiameters& a2c_ed, const LvDiameters& a2c_es, const LvDiameters& a4c_ed,
                               const LvDiameters& a4c_es) {
  BiplaneVolumes result;
  result.disk_height_mm = std::max(std::max(a2c_ed.disk_height_mm, a2c_es.disk_height_mm),
                                   std::max(a4c_ed.disk_height_mm, a4c_es.disk_height_mm));
  result.edv_ml_unrounded = volume_ml(a2c_ed.diameters_mm, a4c_ed.diameters_mm, result.disk_height_mm);
  result.esv_ml_unrounded = volume_ml(a2c_es.diameters_mm, a4c_es.diameters_mm, result.disk_height_mm);
  result.edv_ml = round_half_even(result.edv_ml_unrounded);
  result.esv_ml = round_half_even(result.esv_ml_unrounded);
  result.ef_percent = ejection_fraction(result.edv_ml, result.esv_ml);
  return result;
}

BiplaneVolumes biplane_simpson(const imaging::LabelImage& a2c_ed, const imaging::LabelImage& a2c_es,
                               const imaging::LabelImage& a4c_ed, const imaging::LabelImage& a4c_es) {
  return biplane_simpson(measure_lv_diameters(a2c_ed, "2CH ED LV mask"), measure_lv_diameters(a2c_es, "2CH ES LV mask"),
                         measure_lv_diameters(a4c_ed, "4CH ED LV mask"), measure_lv_diameters(a4c_es, "4CH ES LV mask"));
}

double area_length_volume_ml(const imaging::LabelImage& mask, const std::string& source) {
  const auto binary = binarised(mask, source);
  std::int64_t pixels = 0;
  for (auto value : binary.labels) pixels += value;
  const double area_mm2 = static_cast<double>(pixels) * binary.spacing_at(0) * binary.spacing_at(1);
  const double long_axis_mm = measure_lv_diameters(binary, source).long_axis_mm;
  return 8.0 * area_mm2 * area_mm2 / (3.0 * std::numbers::pi * long_axis_mm) / 1000.0;
}

SinglePlaneVolumes single_plane_area_length(const imaging::LabelImage& ed, const imaging::LabelImage& es) {
  SinglePlaneVolumes result;
  result.edv_ml_unrounded = area_length_volume_ml(ed, "ED LV mask");
  result.esv_ml_unrounded = area_length_volume_ml(es, "ES LV mask");
  result.edv_ml = round_half_even(result.edv_ml_unrounded);
  result.esv_ml = round_half_even(result.esv_ml_unrounded);
  result.ef_percent = ejection_fraction(result.edv_ml, result.esv_ml);
  return result;
}

}  // namespace medport::metrics
