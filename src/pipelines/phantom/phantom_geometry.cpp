#include <cmath>
#include <numbers>

#include "phantom_scene.hpp"

namespace medport::pipelines::phantom {

double lv_profile(double u, double base_fraction) {
  if (u < 0.0 || u > 1.0) return 0.0;
  const double t = (u - base_fraction) / (1.0 - base_fraction);
  return std::sqrt(std::max(0.0, 1.0 - t * t));
}

double lv_volume_ml(const LvShape& s) {
  const double b = 1.0 - s.base_fraction;
  const double integral_f2 = 1.0 - (b * b * b + s.base_fraction * s.base_fraction * s.base_fraction) / (3.0 * b * b);
  return std::numbers::pi * s.semi_axis_2ch_mm * s.semi_axis_4ch_mm * s.long_axis_mm * integral_f2 / 1000.0;
}

namespace detail {

std::uint64_t Random::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double Random::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Random::normal() {
  const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform()));
  return radius * std::cos(2.0 * std::numbers::pi * uniform());
}

namespace {

// Inside a shape of revolution's cut: apex at along = -apex_offset, base plane at along = length
// (both in the LV frame whose apex is at along = 0).
bool inside_profile(double along, double across, double length, double apex_offset, double semi_axis,
                    double base_fraction) {
  const double total = length + apex_offset;
  if (along < -apex_offset || along > length) return false;
  const double u = (length - along) / total;
  // keep the widest section at the same height above the base as the cavity's
  const double u0 = base_fraction * length / total;
  return std::abs(across) <= semi_axis * lv_profile(u, u0);
}

bool inside_ellipse(double along, double across, double centre_along, double centre_across, double half_along,
                    double half_across) {
  const double a = (along - centre_along) / half_along, c = (across - centre_across) / half_across;
  return a * a + c * c <= 1.0;
}

}  // namespace

std::vector<Tissue> tissue_map(const ViewGeometry& g, const PhaseAnatomy& p) {
  std::vector<Tissue> out(static_cast<std::size_t>(g.rows * g.cols), Tissue::Outside);
  const double dx = std::sin(g.tilt_rad), dy = std::cos(g.tilt_rad);  // apex -> base
  const double L = p.lv.long_axis_mm, R = p.semi_axis_mm, u0 = p.lv.base_fraction, t = p.wall_mm;
  const double la_centre = L + 0.5 * p.atrium_length_mm / 2.0;  // mitral opening ~0.87 x LA width
  const double rv_centre_across = -(R + t + p.rv_half_width_mm + 1.5);
  const double ra_centre_across = -(p.atrium_half_width_mm + p.ra_half_width_mm + 4.0);
  for (std::int64_t r = 0; r < g.rows; ++r) {
    for (std::int64_t c = 0; c < g.cols; ++c) {
      const double y = (static_cast<double>(r) + 0.5) * g.row_spacing_mm;
      const double x = (static_cast<double>(c) + 0.5 - static_cast<double>(g.cols) / 2.0) * g.col_spacing_mm;
      Tissue& cell = out[static_cast<std::size_t>(r * g.cols + c)];
      if (std::hypot(x, y) > g.depth_mm || std::atan2(std::abs(x), y) > g.half_angle_rad) continue;
      const double rx = x - g.apex_x_mm, ry = y - g.apex_y_mm;
      const double along = rx * dx + ry * dy, across = rx * dy - ry * dx;
      cell = Tissue::Background;
      if (inside_profile(along, across, L, 0.0, R, u0)) {
        cell = Tissue::LvCavity;
      } else if (inside_profile(along, across, L, 0.9 * t, R + t, u0)) {
        cell = Tissue::Myocardium;
      } else if (along > L && inside_ellipse(along, across, la_centre, 0.0, p.atrium_length_mm / 2.0,
                                              p.atrium_half_width_mm)) {
        cell = Tissue::LeftAtrium;
      } else if (inside_profile(along, across, L, 0.9 * t + 2.5, R + t + 2.5, u0)) {
        cell = Tissue::Pericardium;
      } else if (g.four_chamber) {
        const bool rv = along < L + 1.0 && inside_ellipse(along, across, 0.58 * L, rv_centre_across, 0.42 * L,
                                                          p.rv_half_width_mm);
        const bool ra = along > L + 1.0 && inside_ellipse(along, across, la_centre, ra_centre_across,
                                                          0.45 * p.atrium_length_mm, p.ra_half_width_mm);
        if (rv || ra) {
          cell = Tissue::RightHeart;
        } else if ((along < L + 1.0 && inside_ellipse(along, across, 0.58 * L, rv_centre_across, 0.42 * L + 3.0,
                                                      p.rv_half_width_mm + 3.0)) ||
                   (along > L + 1.0 && inside_ellipse(along, across, la_centre, ra_centre_across,
                                                      0.45 * p.atrium_length_mm + 2.5, p.ra_half_width_mm + 2.5))) {
          cell = Tissue::RightWall;
        }
      }
      if (cell == Tissue::Background && along > L &&
          inside_ellipse(along, across, la_centre, 0.0, p.atrium_length_mm / 2.0 + 2.5, p.atrium_half_width_mm + 2.5))
        cell = Tissue::AtrialWall;
    }
  }
  return out;
}

imaging::LabelImage labels_from_tissue(const std::vector<Tissue>& tissue, const ViewGeometry& g) {
  imaging::LabelImage labels({g.rows, g.cols}, {g.row_spacing_mm, g.col_spacing_mm});
  for (std::size_t i = 0; i < tissue.size(); ++i) {
    switch (tissue[i]) {
      case Tissue::LvCavity: labels.labels[i] = 1; break;
      case Tissue::Myocardium: labels.labels[i] = 2; break;
      case Tissue::LeftAtrium: labels.labels[i] = 3; break;
      default: labels.labels[i] = 0; break;
    }
  }
  return labels;
}

}  // namespace detail
}  // namespace medport::pipelines::phantom
