// CAMUS biplane Simpson volumes and EF against the official code's results (fixtures), plus
// hand-computed geometry on synthetic masks.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/metrics/camus_ef.hpp"
#include "test_support.hpp"

namespace mi = medport::imaging;
namespace mm = medport::metrics;

namespace {

mi::LabelImage load_lv_mask(const std::filesystem::path& path, const std::vector<double>& spacing) {
  const auto labels = mi::label_image_from_tensor(medport::ckpt::read_npy_file(path), path.string(), spacing);
  return mi::binary_mask(labels, 1);  // LV cavity
}

void check_case(const std::string& patient) {
  const auto dir = medport::testing::fixture("camus_ef/" + patient);
  if (dir.empty()) GTEST_SKIP() << "fixture camus_ef/" << patient << " not found";
  std::ifstream in(dir / "expected.json");
  const auto expected = nlohmann::json::parse(in);
  const auto spacing_2ch = expected.at("spacing_2CH_mm_row_col").get<std::vector<double>>();
  const auto spacing_4ch = expected.at("spacing_4CH_mm_row_col").get<std::vector<double>>();
  auto mask = [&](const std::string& view, const std::string& instant) {
    return load_lv_mask(dir / (patient + "_" + view + "_" + instant + "_gt.npy"), view == "2CH" ? spacing_2ch : spacing_4ch);
  };
  const auto result = mm::biplane_simpson(mask("2CH", "ED"), mask("2CH", "ES"), mask("4CH", "ED"), mask("4CH", "ES"));
  EXPECT_EQ(result.edv_ml, expected.at("EDV_mL").get<double>()) << "unrounded " << result.edv_ml_unrounded;
  EXPECT_EQ(result.esv_ml, expected.at("ESV_mL").get<double>()) << "unrounded " << result.esv_ml_unrounded;
  EXPECT_NEAR(result.ef_percent, expected.at("EF_percent").get<double>(), 1e-9);
}

// An axis-aligned ellipse-free test shape: a filled rectangle rows [r0, r1) x cols [c0, c1).
mi::LabelImage rectangle(std::int64_t rows, std::int64_t cols, std::int64_t r0, std::int64_t r1, std::int64_t c0,
                         std::int64_t c1, std::vector<double> spacing = {1.0, 1.0}) {
  mi::LabelImage image({rows, cols}, std::move(spacing));
  for (auto r = r0; r < r1; ++r) {
    for (auto c = c0; c < c1; ++c) image.at(r, c) = 1;
  }
  return image;
}

}  // namespace

TEST(CamusEfFixture, Phantom0001) { check_case("phantom0001"); }
TEST(CamusEfFixture, Phantom0002) { check_case("phantom0002"); }

TEST(CamusEfFixture, AllCasesListed) {
  MEDPORT_FIXTURE_OR_SKIP(path, "camus_ef/expected_all.json");
  std::ifstream in(path);
  const auto all = nlohmann::json::parse(in);
  ASSERT_FALSE(all.empty());
  std::set<std::string> listed;
  for (const auto& entry : all) listed.insert(entry.at("patient").get<std::string>());
  for (const auto& dir : std::filesystem::directory_iterator(path.parent_path())) {
    if (dir.is_directory()) {
      EXPECT_TRUE(listed.count(dir.path().filename().string())) << dir.path() << " not listed";
    }
  }
  for (const auto& entry : all) {
    SCOPED_TRACE(entry.at("patient").get<std::string>());
    check_case(entry.at("patient").get<std::string>());
  }
}

TEST(CamusEfGeometry, RectangleBounds) {
  // Rectangle rows 10..49, cols 20..39 (40 x 20 px) in a 60 x 60 image, 1 mm pixels. The
  // contour runs on half-pixel lines, so the long axis from the base midpoint to the apex is
  // at least the 40 px height and at most the 40.x20 diagonal plus a pixel; each diameter is
  // at least the two 8 px starting offsets and at most a diagonal cut.
  const auto image = rectangle(60, 60, 10, 50, 20, 40);
  const auto measured = mm::measure_lv_diameters(image);
  EXPECT_GE(measured.long_axis_mm, 40.0);
  EXPECT_LE(measured.long_axis_mm, std::sqrt(40.0 * 40.0 + 20.0 * 20.0) + 1.0);
  EXPECT_DOUBLE_EQ(measured.disk_height_mm, measured.long_axis_mm / 20.0);
  EXPECT_DOUBLE_EQ(measured.isotropic_spacing_mm, 1.0);
  for (double d : measured.diameters_mm) {
    EXPECT_GE(d, 16.0);
    EXPECT_LE(d, std::hypot(40.0, 20.0) + 1.0);  // the tilted axis cuts corners diagonally
  }
  // Doubling the pixel size doubles every length.
  const auto coarse = mm::measure_lv_diameters(rectangle(60, 60, 10, 50, 20, 40, {2.0, 2.0}));
  EXPECT_DOUBLE_EQ(coarse.long_axis_mm, 2.0 * measured.long_axis_mm);
  for (std::size_t k = 0; k < 20; ++k) EXPECT_DOUBLE_EQ(coarse.diameters_mm[k], 2.0 * measured.diameters_mm[k]);
}

TEST(CamusEfGeometry, VolumeFormulaByHand) {
  // Identical circular-looking disks: a = b = 10 mm, h = 5 mm -> V = pi/4 * 5 * 20 * 100 mm^3.
  mm::LvDiameters view;
  view.diameters_mm.fill(10.0);
  view.disk_height_mm = 5.0;
  mm::LvDiameters small = view;
  small.diameters_mm.fill(5.0);
  small.disk_height_mm = 2.0;  // the shared height is the maximum, 5 mm
  const auto result = mm::biplane_simpson(view, small, view, small);
  const double edv = std::numbers::pi / 4.0 * 5.0 * 20.0 * 100.0 / 1000.0;  // 7.853975 mL
  const double esv = std::numbers::pi / 4.0 * 5.0 * 20.0 * 25.0 / 1000.0;   // 1.963494 mL
  EXPECT_NEAR(result.edv_ml_unrounded, edv, 1e-12);
  EXPECT_NEAR(result.esv_ml_unrounded, esv, 1e-12);
  EXPECT_EQ(result.edv_ml, 8.0);
  EXPECT_EQ(result.esv_ml, 2.0);
  EXPECT_DOUBLE_EQ(result.ef_percent, 75.0);
  EXPECT_DOUBLE_EQ(result.disk_height_mm, 5.0);
}

TEST(CamusEfGeometry, AnisotropicSpacingIsResampled) {
  // The same physical rectangle (40 x 20 mm) at 1 mm rows x 2 mm cols: the columns are
  // doubled by the isotropic resize, so the measures match the 1 mm version.
  const auto iso = mm::measure_lv_diameters(rectangle(60, 60, 10, 50, 20, 40));
  const auto aniso = mm::measure_lv_diameters(rectangle(60, 30, 10, 50, 10, 20, {1.0, 2.0}));
  EXPECT_NEAR(aniso.long_axis_mm, iso.long_axis_mm, 1e-12);
  for (std::size_t k = 0; k < 20; ++k) EXPECT_NEAR(aniso.diameters_mm[k], iso.diameters_mm[k], 1e-12) << k;
}

TEST(CamusEfGeometry, AreaLengthSinglePlane) {
  // 40 x 20 px rectangle at 0.5 mm: A = 800 * 0.25 = 200 mm^2; L = the biplane long axis.
  const auto image = rectangle(60, 60, 10, 50, 20, 40, {0.5, 0.5});
  const double area = 200.0;
  const double length = mm::measure_lv_diameters(image).long_axis_mm;
  EXPECT_NEAR(mm::area_length_volume_ml(image), 8.0 * area * area / (3.0 * std::numbers::pi * length) / 1000.0, 1e-12);
  const auto result = mm::single_plane_area_length(image, rectangle(60, 60, 20, 50, 20, 40, {0.5, 0.5}));
  EXPECT_GT(result.edv_ml_unrounded, result.esv_ml_unrounded);
  EXPECT_GT(result.ef_percent, 0.0);
}

TEST(CamusEfErrors, EmptyOrTinyMasksAreRejected) {
  mi::LabelImage empty({20, 20}, {1.0, 1.0});
  EXPECT_THROW(mm::measure_lv_diameters(empty), medport::InputError);
  EXPECT_THROW(mm::biplane_simpson(empty, empty, empty, empty), medport::InputError);
  mi::LabelImage volume({2, 20, 20});
  EXPECT_THROW(mm::measure_lv_diameters(volume), medport::InputError);
}
