// `medport echo-ef` through the binary on the CAMUS EF fixtures (volumes computed by the official
// CAMUS code), plus its fallback and its refusals.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

std::string spacing_arg(const nlohmann::json& pair) {
  char buf[80];
  std::snprintf(buf, sizeof buf, "%.17g,%.17g", pair[0].get<double>(), pair[1].get<double>());
  return buf;
}

class EchoEfCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
  }
  TempDir dir_;
};

TEST_F(EchoEfCli, EveryCamusFixtureCaseByFolder) {
  MEDPORT_FIXTURE_OR_SKIP(all, "camus_ef/expected_all.json");
  const auto cases = medport::testing::read_json(all);
  ASSERT_GE(cases.size(), 1u);
  for (const auto& expected : cases) {
    const std::string patient = expected["patient"];
    const fs::path folder = all.parent_path() / patient;
    const fs::path out = dir_ / (patient + ".json");
    const auto r = run_medport({"echo-ef", folder.string(), "--spacing-a2c", spacing_arg(expected["spacing_2CH_mm_row_col"]),
                                "--spacing-a4c", spacing_arg(expected["spacing_4CH_mm_row_col"]), "--json", out.string()});
    ASSERT_EQ(r.exit_code, 0) << patient << ": " << r.err;
    const auto got = medport::testing::read_json(out);
    EXPECT_EQ(got["patient"], patient);
    EXPECT_EQ(got["method"], "biplane_method_of_disks");
    EXPECT_EQ(got["EDV_mL"].get<double>(), expected["EDV_mL"].get<double>()) << patient;
    EXPECT_EQ(got["ESV_mL"].get<double>(), expected["ESV_mL"].get<double>()) << patient;
    EXPECT_NEAR(got["EF_percent"].get<double>(), expected["EF_percent"].get<double>(), 1e-9) << patient;
    EXPECT_NE(r.out.find("biplane"), std::string::npos) << r.out;
  }
}

TEST_F(EchoEfCli, FourNamedFilesAndSpacingSidecar) {
  MEDPORT_FIXTURE_OR_SKIP(all, "camus_ef/expected_all.json");
  const auto expected = medport::testing::read_json(all)[0];
  const std::string patient = expected["patient"];
  const fs::path folder = all.parent_path() / patient;
  // Files renamed so only the explicit options say which view they are.
  for (const std::string key : {"2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"})
    fs::copy_file(folder / (patient + "_" + key + "_gt.npy"), dir_ / ("mask_" + key.substr(0, 1) + key.substr(4) + ".npy"));
  const nlohmann::json sidecar = {{"2CH", expected["spacing_2CH_mm_row_col"]}, {"4CH", expected["spacing_4CH_mm_row_col"]}};
  medport::write_file_atomic(dir_ / "spacing.json", sidecar.dump());
  const auto r = run_medport({"echo-ef", "--a2c-ed", (dir_ / "mask_2ED.npy").string(), "--a2c-es",
                              (dir_ / "mask_2ES.npy").string(), "--a4c-ed", (dir_ / "mask_4ED.npy").string(),
                              "--a4c-es", (dir_ / "mask_4ES.npy").string(), "--json", (dir_ / "out.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto got = medport::testing::read_json(dir_ / "out.json");
  EXPECT_EQ(got["EDV_mL"].get<double>(), expected["EDV_mL"].get<double>());
  EXPECT_EQ(got["ESV_mL"].get<double>(), expected["ESV_mL"].get<double>());
}

TEST_F(EchoEfCli, SingleViewFallsBackToAreaLengthAndSaysSo) {
  MEDPORT_FIXTURE_OR_SKIP(all, "camus_ef/expected_all.json");
  const auto expected = medport::testing::read_json(all)[0];
  const std::string patient = expected["patient"];
  const fs::path folder = all.parent_path() / patient;
  for (const std::string phase : {"ED", "ES"})
    fs::copy_file(folder / (patient + "_4CH_" + phase + "_gt.npy"), dir_ / (patient + "_4CH_" + phase + "_gt.npy"));
  const auto r = run_medport({"echo-ef", dir_.path().string(), "--spacing", spacing_arg(expected["spacing_4CH_mm_row_col"]),
                              "--json", (dir_ / "out.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("FALLBACK single-plane area-length, 4CH only"), std::string::npos) << r.out;
  const auto got = medport::testing::read_json(dir_ / "out.json");
  EXPECT_EQ(got["method"], "single_plane_area_length");
  EXPECT_EQ(got["views"], nlohmann::json::array({"4CH"}));
  // Same heart: the single-plane estimate lands near the biplane reference.
  EXPECT_NEAR(got["EF_percent"].get<double>(), expected["EF_percent"].get<double>(), 10.0);
  EXPECT_NEAR(got["EDV_mL"].get<double>(), expected["EDV_mL"].get<double>(), 0.25 * expected["EDV_mL"].get<double>());
}

TEST_F(EchoEfCli, RefusesWhatItCannotMeasure) {
  MEDPORT_FIXTURE_OR_SKIP(all, "camus_ef/expected_all.json");
  const fs::path folder = all.parent_path() / "phantom0001";
  // npy has no spacing of its own
  auto r = run_medport({"echo-ef", folder.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--spacing"), std::string::npos) << r.err;
  // nothing to measure
  r = run_medport({"echo-ef", dir_.path().string(), "--spacing", "0.3,0.3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  // the LV label is absent
  r = run_medport({"echo-ef", folder.string(), "--spacing", "0.3,0.3", "--label", "7"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = run_medport({"echo-ef", folder.string(), "--spacing", "0.3"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
