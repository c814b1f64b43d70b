#pragma once
// Internal: the geometry of one phantom view (positions in mm, fan apex at the origin, x to the
// right, y = depth) and the renderer that turns it into a B-mode image.
#include <cstdint>
#include <vector>

#include "medport/pipelines/phantom/phantom.hpp"

namespace medport::pipelines::phantom::detail {

// splitmix64: a tiny, portable generator so that a seed gives the same phantom everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  double uniform();                       // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal();                        // standard normal (Box-Muller)

 private:
  std::uint64_t state_;
};

struct ViewGeometry {
  std::int64_t rows = 0, cols = 0;
  double depth_mm = 0.0;        // fan radius; the image spans depth 0..depth_mm
  double half_angle_rad = 0.0;  // fan opening
  double row_spacing_mm = 0.0, col_spacing_mm = 0.0;
  double apex_x_mm = 0.0, apex_y_mm = 0.0;  // LV apex (endocardium)
  double tilt_rad = 0.0;                    // long axis rotation; > 0 moves the base to the right
  bool four_chamber = false;
};

struct PhaseAnatomy {
  LvShape lv;
  double semi_axis_mm = 0.0;    // A (2CH) or B (4CH): the half-width seen in this view
  double wall_mm = 0.0;         // myocardium thickness
  double atrium_length_mm = 0.0, atrium_half_width_mm = 0.0;
  double rv_half_width_mm = 0.0, ra_half_width_mm = 0.0;  // 4CH only
};

// Tissue classes of the scene, before labels are reduced to 0..3.
enum class Tissue : std::uint8_t { Outside, Background, LvCavity, Myocardium, LeftAtrium, Pericardium, RightHeart, RightWall, AtrialWall };

std::vector<Tissue> tissue_map(const ViewGeometry& geometry, const PhaseAnatomy& anatomy);
imaging::LabelImage labels_from_tissue(const std::vector<Tissue>& tissue, const ViewGeometry& geometry);
std::vector<std::uint8_t> render_bmode(const std::vector<Tissue>& tissue, const ViewGeometry& geometry, Random& random);

}  // namespace medport::pipelines::phantom::detail
