#pragma once
// Per-instance geometry: in-plane spacing (PixelSpacing, or the ultrasound regions' physical
// deltas) and the patient-space plane (ImagePositionPatient / ImageOrientationPatient).
#include <array>
#include <optional>
#include <string>

#include "dcmtk_support.hpp"

namespace medport::dicom::detail {

struct InstanceGeometry {
  std::optional<std::array<double, 2>> spacing;     // (row, column) mm
  std::optional<std::array<double, 3>> position;    // LPS mm
  std::optional<std::array<double, 6>> orientation; // row cosines, column cosines (unit, orthogonal)
};

InstanceGeometry read_instance_geometry(DcmItem& dataset, const std::string& file);

// Row cosines x column cosines.
std::array<double, 3> slice_normal(const std::array<double, 6>& orientation);
double dot(const std::array<double, 3>& a, const std::array<double, 3>& b);

}  // namespace medport::dicom::detail
