// `medport phantom`: deterministic for a seed, sensible anatomy in the label maps, and an EF that
// `medport echo-ef` (the CAMUS method) recovers from the masks within 3 EF points of the truth.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <nlohmann/json.hpp>
#include <set>

#include "medport/checkpoint/npy.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

class PhantomCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
  }
  fs::path make(const std::string& name, const std::string& seed, const std::string& patients = "2") {
    const fs::path out = dir_ / name;
    const auto r = run_medport({"phantom", "-o", out.string(), "--patients", patients, "--seed", seed});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }
  TempDir dir_;
};

TEST_F(PhantomCli, SameSeedSameFilesOtherSeedOtherImages) {
  const fs::path a = make("a", "11"), b = make("b", "11"), c = make("c", "12");
  std::size_t compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a)) {
    if (!entry.is_regular_file()) continue;
    const fs::path rel = fs::relative(entry.path(), a);
    ASSERT_TRUE(fs::exists(b / rel)) << rel;
    EXPECT_EQ(medport::read_file(entry.path()), medport::read_file(b / rel)) << rel;
    ++compared;
  }
  // 2 patients x (4 views x 5 files + spacing.json + truth JSON)
  EXPECT_EQ(compared, 2u * (4u * 5u + 2u));
  EXPECT_NE(medport::read_file(a / "phantom0001" / "phantom0001_2CH_ED.npy"),
            medport::read_file(c / "phantom0001" / "phantom0001_2CH_ED.npy"));
  EXPECT_NE(medport::read_file(a / "phantom0001" / "phantom0001_2CH_ED.npy"),
            medport::read_file(a / "phantom0002" / "phantom0002_2CH_ED.npy"));
}

TEST_F(PhantomCli, LabelsPresentAndNested) {
  const fs::path out = make("p", "3", "1");
  for (const std::string key : {"2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"}) {
    const auto t = medport::ckpt::read_npy_file(out / "phantom0001" / ("phantom0001_" + key + "_gt.npy"));
    ASSERT_EQ(t.shape().size(), 2u);
    const std::int64_t rows = t.shape()[0], cols = t.shape()[1];
    EXPECT_EQ(rows, 256);
    EXPECT_EQ(cols, 256);
    const auto* v = reinterpret_cast<const std::uint8_t*>(t.raw_data());
    auto at = [&](std::int64_t r, std::int64_t c) { return v[r * cols + c]; };
    std::set<int> present;
    double row_sum[4] = {0, 0, 0, 0}, count[4] = {0, 0, 0, 0};
    std::int64_t top[4] = {rows, rows, rows, rows};
    std::int64_t lv_touching_background = 0, lv_touching_myo = 0;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c) {
        const int l = at(r, c);
        ASSERT_LE(l, 3);
        present.insert(l);
        row_sum[l] += static_cast<double>(r);
        count[l] += 1;
        top[l] = std::min(top[l], r);
        if (l != 1) continue;
        bool bg = false, myo = false;
        for (const auto& [dr, dc] : {std::pair{-1, 0}, {1, 0}, {0, -1}, {0, 1}}) {
          const std::int64_t rr = r + dr, cc = c + dc;
          if (rr < 0 || cc < 0 || rr >= rows || cc >= cols) continue;
          bg |= at(rr, cc) == 0;
          myo |= at(rr, cc) == 2;
        }
        lv_touching_background += bg;
        lv_touching_myo += myo;
      }
    EXPECT_EQ(present, (std::set<int>{0, 1, 2, 3})) << key;
    // The myocardium wraps the cavity (open only at the mitral plane) and caps the apex;
    // the atrium lies below the ventricle (apex at the top of the image).
    EXPECT_LT(lv_touching_background * 4, lv_touching_myo) << key;
    EXPECT_LT(top[2], top[1]) << key;
    EXPECT_GT(row_sum[3] / count[3], row_sum[1] / count[1]) << key;
    EXPECT_GT(count[2], 0.3 * count[1]) << key;
  }
}

TEST_F(PhantomCli, EchoEfRecoversTheKnownEjectionFraction) {
  const fs::path out = make("ef", "2026", "3");
  for (int i = 1; i <= 3; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "phantom%04d", i);
    const fs::path folder = out / id;
    const auto truth = medport::testing::read_json(folder / (std::string(id) + "_truth.json"));
    const double edv = truth["truth"]["EDV_mL"], esv = truth["truth"]["ESV_mL"], ef = truth["truth"]["EF_percent"];
    // truth is the analytic volume of the drawn shape
    const auto& p = truth["parameters"]["lv_ed"];
    const double u0 = p["base_fraction"], b = 1.0 - u0;
    const double analytic = std::numbers::pi * p["semi_axis_2ch_mm"].get<double>() * p["semi_axis_4ch_mm"].get<double>() *
                            p["long_axis_mm"].get<double>() * (1.0 - (b * b * b + u0 * u0 * u0) / (3.0 * b * b)) / 1000.0;
    EXPECT_NEAR(edv, analytic, 1e-9);

    const auto r = run_medport({"echo-ef", folder.string(), "--json", (dir_ / "m.json").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto m = medport::testing::read_json(dir_ / "m.json");
    EXPECT_EQ(m["method"], "biplane_method_of_disks");
    EXPECT_NEAR(m["EF_percent"].get<double>(), ef, 3.0) << id;
    EXPECT_NEAR(m["EDV_mL_unrounded"].get<double>(), edv, 0.08 * edv) << id;
    EXPECT_NEAR(m["ESV_mL_unrounded"].get<double>(), esv, 0.10 * esv) << id;
    // the phantom's own report of the CAMUS measurement is the same
    EXPECT_EQ(truth["measured"]["EDV_mL"].get<double>(), m["EDV_mL"].get<double>());

    // PNG masks + spacing.json give the same numbers as the npy masks
    const fs::path png_only = dir_ / ("png_" + std::to_string(i));
    fs::create_directories(png_only);
    fs::copy_file(folder / "spacing.json", png_only / "spacing.json");
    for (const std::string key : {"2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"})
      fs::copy_file(folder / (std::string(id) + "_" + key + "_gt.png"), png_only / (std::string(id) + "_" + key + "_gt.png"));
    const auto r_png = run_medport({"echo-ef", png_only.string(), "--json", (dir_ / "png.json").string()});
    ASSERT_EQ(r_png.exit_code, 0) << r_png.err;
    EXPECT_EQ(medport::testing::read_json(dir_ / "png.json")["EDV_mL_unrounded"], m["EDV_mL_unrounded"]);
  }
}

TEST_F(PhantomCli, RefusesBadSize) {
  const auto r = run_medport({"phantom", "-o", (dir_ / "x").string(), "--size", "12x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
