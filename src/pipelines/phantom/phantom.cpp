#include "medport/pipelines/phantom/phantom.hpp"

#include <cmath>
#include <cstdio>
#include <numbers>

#include "phantom_scene.hpp"

namespace medport::pipelines::phantom {

namespace {

constexpr double kDegree = std::numbers::pi / 180.0;

std::string patient_id(int index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "phantom%04d", index);
  return buf;
}

nlohmann::ordered_json shape_json(const LvShape& s) {
  return {{"long_axis_mm", s.long_axis_mm},
          {"semi_axis_2ch_mm", s.semi_axis_2ch_mm},
          {"semi_axis_4ch_mm", s.semi_axis_4ch_mm},
          {"base_fraction", s.base_fraction}};
}

}  // namespace

PhantomPatient generate_phantom_patient(const PhantomOptions& options, int index) {
  detail::Random random(detail::Random(options.seed ^ (static_cast<std::uint64_t>(index) * 0xD1B54A32D192ED03ULL)).next());
  PhantomPatient patient;
  patient.id = patient_id(index);

  // Heart, drawn once per patient.
  LvShape ed;
  ed.long_axis_mm = random.uniform(78.0, 95.0);
  ed.semi_axis_2ch_mm = random.uniform(21.0, 26.0);
  ed.semi_axis_4ch_mm = random.uniform(22.0, 28.0);
  ed.base_fraction = random.uniform(0.15, 0.25);
  const double target_ef = random.uniform(0.35, 0.68);
  // The apex stays put; the base moves a little towards it (longitudinal shortening) while the
  // walls move in radially by the amount that gives the drawn EF.
  const double shortening = random.uniform(0.0, 0.03);
  const double radial = std::sqrt((1.0 - target_ef) / (1.0 - shortening));
  LvShape es = ed;
  es.long_axis_mm = ed.long_axis_mm * (1.0 - shortening);
  es.semi_axis_2ch_mm = ed.semi_axis_2ch_mm * radial;
  es.semi_axis_4ch_mm = ed.semi_axis_4ch_mm * radial;
  const double wall_ed = random.uniform(8.0, 10.0);
  const double la_length_ed = random.uniform(30.0, 40.0), la_half_ed = random.uniform(17.0, 21.0);
  const double rv_half = random.uniform(12.0, 16.0), ra_half = random.uniform(13.0, 16.0);

  patient.truth.ed = ed;
  patient.truth.es = es;
  patient.truth.edv_ml = lv_volume_ml(ed);
  patient.truth.esv_ml = lv_volume_ml(es);
  patient.truth.ef_percent = 100.0 * (patient.truth.edv_ml - patient.truth.esv_ml) / patient.truth.edv_ml;

  nlohmann::ordered_json views_json = nlohmann::ordered_json::object();
  for (const std::string view : {"2CH", "4CH"}) {
    // One acquisition per view: geometry (and so spacing) shared by ED and ES.
    detail::ViewGeometry g;
    g.rows = options.rows;
    g.cols = options.cols;
    g.four_chamber = view == "4CH";
    g.half_angle_rad = random.uniform(36.0, 40.0) * kDegree;
    g.apex_y_mm = random.uniform(30.0, 38.0);
    g.apex_x_mm = random.uniform(-3.0, 3.0);
    g.tilt_rad = (g.four_chamber ? random.uniform(4.0, 9.0) : random.uniform(-4.0, 4.0)) * kDegree;
    g.depth_mm = g.apex_y_mm + ed.long_axis_mm + 1.2 * la_length_ed + random.uniform(8.0, 20.0);
    g.row_spacing_mm = g.depth_mm / static_cast<double>(g.rows);
    g.col_spacing_mm = 2.0 * g.depth_mm * std::sin(g.half_angle_rad) / static_cast<double>(g.cols);
    views_json[view] = {{"spacing_mm_row_col", {g.row_spacing_mm, g.col_spacing_mm}},
                        {"fan_depth_mm", g.depth_mm},
                        {"fan_half_angle_deg", g.half_angle_rad / kDegree},
                        {"apex_mm_x_y", {g.apex_x_mm, g.apex_y_mm}},
                        {"tilt_deg", g.tilt_rad / kDegree}};
    for (const std::string phase : {"ED", "ES"}) {
      const bool systole = phase == "ES";
      detail::PhaseAnatomy anatomy;
      anatomy.lv = systole ? es : ed;
      anatomy.semi_axis_mm = g.four_chamber ? anatomy.lv.semi_axis_4ch_mm : anatomy.lv.semi_axis_2ch_mm;
      anatomy.wall_mm = systole ? wall_ed * 1.3 : wall_ed;
      anatomy.atrium_length_mm = systole ? la_length_ed * 1.2 : la_length_ed;
      anatomy.atrium_half_width_mm = systole ? la_half_ed * 1.12 : la_half_ed;
      anatomy.rv_half_width_mm = systole ? rv_half * 0.8 : rv_half;
      anatomy.ra_half_width_mm = systole ? ra_half * 1.1 : ra_half;
      const auto tissue = detail::tissue_map(g, anatomy);
      PhantomView out;
      out.view = view;
      out.phase = phase;
      out.labels = detail::labels_from_tissue(tissue, g);
      out.image = detail::render_bmode(tissue, g, random);
      patient.views.push_back(std::move(out));
    }
  }
  patient.parameters = {{"seed", options.seed},
                        {"index", index},
                        {"lv_ed", shape_json(ed)},
                        {"lv_es", shape_json(es)},
                        {"longitudinal_shortening", shortening},
                        {"wall_mm_ed", wall_ed},
                        {"views", views_json}};
  return patient;
}

}  // namespace medport::pipelines::phantom
