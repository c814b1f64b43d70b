#pragma once
// Synthetic CAMUS-like apical echocardiography: 2CH and 4CH views at end-diastole (ED) and
// end-systole (ES) with label maps (0 background, 1 LV cavity, 2 myocardium, 3 left atrium) and
// analytically known LV volumes.
//
// The LV cavity is a truncated ellipsoid of elliptic cross-section: along the long axis, at height
// z above the base plane (u = z / L, apex at u = 1), the section is an ellipse with semi-axes
// a(u) = A f(u) (seen in the 2CH plane) and b(u) = B f(u) (4CH plane), where
// f(u)^2 = 1 - ((u - u0) / (1 - u0))^2. The 2CH and 4CH images are the two orthogonal planes
// through the long axis, so V = pi A B L * (1 - ((1 - u0)^3 + u0^3) / (3 (1 - u0)^2)) exactly.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/imaging/label_image.hpp"

namespace medport::pipelines::phantom {

struct PhantomOptions {
  std::int64_t rows = 256;
  std::int64_t cols = 256;
  std::uint64_t seed = 0;
};

// The shape of one LV at one phase (mm).
struct LvShape {
  double long_axis_mm = 0.0;      // L: base plane to apex
  double semi_axis_2ch_mm = 0.0;  // A
  double semi_axis_4ch_mm = 0.0;  // B
  double base_fraction = 0.2;     // u0: height of the widest section above the base, over L
};
double lv_volume_ml(const LvShape& shape);
// f(u) of the header, 0 outside [0, 1].
double lv_profile(double u, double base_fraction);

struct PhantomView {
  std::string view;   // "2CH" or "4CH"
  std::string phase;  // "ED" or "ES"
  imaging::LabelImage labels;        // (rows, cols), spacing (row, col) mm
  std::vector<std::uint8_t> image;   // 8-bit B-mode, same grid
};

struct PhantomTruth {
  LvShape ed, es;
  double edv_ml = 0.0, esv_ml = 0.0, ef_percent = 0.0;
};

struct PhantomPatient {
  std::string id;  // "phantom0001"
  std::vector<PhantomView> views;  // 2CH ED, 2CH ES, 4CH ED, 4CH ES
  PhantomTruth truth;
  nlohmann::ordered_json parameters;  // everything drawn for this patient
};

// Patient `index` (1-based) of the series drawn from options.seed; identical for identical inputs.
PhantomPatient generate_phantom_patient(const PhantomOptions& options, int index);

// Writes DIR/<id>/: <id>_<view>_<phase>{.png,.npy} (8-bit image), <id>_<view>_<phase>_gt{.npy,.png}
// (labels, raw values 0..3), <id>_<view>_<phase>_labels.png (labels x 85, for viewing),
// spacing.json {"2CH": [row, col], "4CH": [row, col]} and <id>_truth.json (analytic truth,
// parameters, and `measured` unless it is null). The patient folder is written as a whole
// (AtomicFolder): a failure or a kill leaves no partial patient; a rerun replaces it.
void write_phantom_patient(const std::filesystem::path& dir, const PhantomPatient& patient,
                           const nlohmann::ordered_json& measured);

}  // namespace medport::pipelines::phantom
