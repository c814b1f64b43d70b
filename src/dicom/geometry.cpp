#include "geometry.hpp"

#include <cmath>

namespace medport::dicom::detail {
namespace {

// The largest 2D region whose X and Y units are centimetres (PhysicalUnits 3), as (row, column) mm.
std::optional<std::array<double, 2>> ultrasound_spacing(DcmItem& dataset, const std::string& file) {
  DcmSequenceOfItems* regions = nullptr;
  if (dataset.findAndGetSequence(DCM_SequenceOfUltrasoundRegions, regions).bad() || regions == nullptr) return std::nullopt;
  std::optional<std::array<double, 2>> best;
  double best_area = -1.0;
  for (unsigned long i = 0; i < regions->card(); ++i) {
    DcmItem* region = regions->getItem(i);
    if (region == nullptr) continue;
    const auto format = find_integer(*region, DCM_RegionSpatialFormat, file);
    const auto units_x = find_integer(*region, DCM_PhysicalUnitsXDirection, file);
    const auto units_y = find_integer(*region, DCM_PhysicalUnitsYDirection, file);
    if (format != 1L || units_x != 3L || units_y != 3L) continue;  // 2D tissue, cm
    const auto dx = require_numbers(*region, DCM_PhysicalDeltaX, 1, file)[0];
    const auto dy = require_numbers(*region, DCM_PhysicalDeltaY, 1, file)[0];
    if (!(std::fabs(dx) > 0)) fail(file, DCM_PhysicalDeltaX, "must be non-zero in ultrasound region " + std::to_string(i + 1));
    if (!(std::fabs(dy) > 0)) fail(file, DCM_PhysicalDeltaY, "must be non-zero in ultrasound region " + std::to_string(i + 1));
    const auto x0 = find_numbers(*region, DCM_RegionLocationMinX0, file);
    const auto y0 = find_numbers(*region, DCM_RegionLocationMinY0, file);
    const auto x1 = find_numbers(*region, DCM_RegionLocationMaxX1, file);
    const auto y1 = find_numbers(*region, DCM_RegionLocationMaxY1, file);
    const double area = x0.empty() || y0.empty() || x1.empty() || y1.empty()
                            ? 0.0
                            : std::fabs((x1[0] - x0[0] + 1) * (y1[0] - y0[0] + 1));
    if (area > best_area) {
      best_area = area;
      best = std::array<double, 2>{std::fabs(dy) * 10.0, std::fabs(dx) * 10.0};
    }
  }
  return best;
}

}  // namespace

double dot(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

std::array<double, 3> slice_normal(const std::array<double, 6>& o) {
  return {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
}

InstanceGeometry read_instance_geometry(DcmItem& dataset, const std::string& file) {
  InstanceGeometry g;
  const auto spacing = find_numbers(dataset, DCM_PixelSpacing, file);
  if (!spacing.empty()) {
    if (spacing.size() != 2) fail(file, DCM_PixelSpacing, "expected 2 values, found " + std::to_string(spacing.size()));
    if (!(spacing[0] > 0) || !(spacing[1] > 0)) fail(file, DCM_PixelSpacing, "values must be positive");
    g.spacing = std::array<double, 2>{spacing[0], spacing[1]};
  } else {
    g.spacing = ultrasound_spacing(dataset, file);
  }
  const auto position = find_numbers(dataset, DCM_ImagePositionPatient, file);
  if (!position.empty()) {
    if (position.size() != 3) fail(file, DCM_ImagePositionPatient, "expected 3 values, found " + std::to_string(position.size()));
    g.position = std::array<double, 3>{position[0], position[1], position[2]};
  }
  const auto orientation = find_numbers(dataset, DCM_ImageOrientationPatient, file);
  if (!orientation.empty()) {
    if (orientation.size() != 6)
      fail(file, DCM_ImageOrientationPatient, "expected 6 values, found " + std::to_string(orientation.size()));
    std::array<double, 3> row{orientation[0], orientation[1], orientation[2]};
    std::array<double, 3> col{orientation[3], orientation[4], orientation[5]};
    const double nr = std::sqrt(dot(row, row)), nc = std::sqrt(dot(col, col));
    if (std::fabs(nr - 1.0) > 1e-3 || std::fabs(nc - 1.0) > 1e-3)
      fail(file, DCM_ImageOrientationPatient, "direction cosines are not unit vectors");
    if (std::fabs(dot(row, col)) > 1e-3) fail(file, DCM_ImageOrientationPatient, "row and column cosines are not orthogonal");
    std::array<double, 6> o{};
    for (int i = 0; i < 3; ++i) {
      o[i] = row[i] / nr;
      o[3 + i] = col[i] / nc;
    }
    g.orientation = o;
  }
  return g;
}

}  // namespace medport::dicom::detail
