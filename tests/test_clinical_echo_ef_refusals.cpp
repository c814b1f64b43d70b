// echo-ef refuses clinically impossible inputs with exit 3 and the reason (docs/CLINICAL.md), and
// flags ESV > EDV in its JSON; masks come from `medport phantom`, so no fixture is needed.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::testing::run_medport;

class EchoEfRefusals : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
    const auto r = run_medport({"phantom", "-o", (dir_ / "ph").string(), "--seed", "7"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    patient_ = dir_ / "ph" / "phantom0001";
  }
  fs::path mask(const std::string& key) const { return patient_ / ("phantom0001_" + key + "_gt.npy"); }
  medport::testing::CommandResult echo_ef(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"echo-ef", patient_.string(), "--suffix", "gt", "--json", (dir_ / "ef.json").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_medport(args);
  }
  medport::testing::TempDir dir_;
  fs::path patient_;
};

TEST_F(EchoEfRefusals, PlausiblePatientHasNoWarnings) {
  const auto r = echo_ef();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = medport::testing::read_json(dir_ / "ef.json");
  EXPECT_EQ(j["warnings"], nlohmann::json::array());
  EXPECT_GT(j["EF_percent"].get<double>(), 0.0);
}

TEST_F(EchoEfRefusals, EdAndEsOfDifferentShapesAreRefused) {
  const auto r0 = run_medport({"phantom", "-o", (dir_ / "other").string(), "--size", "300x280"});
  ASSERT_EQ(r0.exit_code, 0) << r0.err;
  fs::copy_file(dir_ / "other" / "phantom0001" / "phantom0001_2CH_ES_gt.npy", mask("2CH_ES"),
                fs::copy_options::overwrite_existing);
  const auto r = echo_ef();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("phantom0001_2CH_ES_gt.npy: ES mask is [300, 280]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("same acquisition"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "ef.json"));
}

TEST_F(EchoEfRefusals, AnLvOfAFewPixelsIsRefused) {
  std::vector<std::uint8_t> speck(256 * 256, 0);
  for (int y = 120; y < 123; ++y)
    for (int x = 120; x < 123; ++x) speck[static_cast<std::size_t>(y * 256 + x)] = 1;
  medport::ckpt::write_npy_file(mask("4CH_ED"), medport::Tensor::from_bytes(medport::DType::U8, {256, 256},
                                                                            std::as_bytes(std::span(speck))));
  const auto r = echo_ef();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("phantom0001_4CH_ED_gt.npy: the LV cavity is 9 pixels"), std::string::npos) << r.err;
}

TEST_F(EchoEfRefusals, AbsurdSpacingIsRefused) {
  auto r = echo_ef({"--spacing", "50,50"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("not a plausible echo pixel spacing"), std::string::npos) << r.err;
  r = echo_ef({"--spacing", "3,3"});  // 256 rows x 3 mm = 77 cm
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("check the spacing"), std::string::npos) << r.err;
  r = echo_ef({"--spacing", "0.001,0.001"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
}

TEST_F(EchoEfRefusals, EsvAboveEdvIsReportedWithAWarningFlag) {
  for (const std::string view : {"2CH", "4CH"}) {
    fs::rename(mask(view + "_ED"), dir_ / "tmp.npy");
    fs::rename(mask(view + "_ES"), mask(view + "_ED"));
    fs::rename(dir_ / "tmp.npy", mask(view + "_ES"));
  }
  const auto r = echo_ef();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ESV is larger than EDV"), std::string::npos) << r.err;
  const auto j = medport::testing::read_json(dir_ / "ef.json");  // strict JSON: a NaN would not parse
  EXPECT_EQ(j["warnings"], nlohmann::json::array({"esv_exceeds_edv"}));
  EXPECT_LT(j["EF_percent"].get<double>(), 0.0);
}

}  // namespace

namespace {

// The 2CH and 4CH ED masks of the patient with `block` extra LV pixels in a corner.
void add_corner_block(const fs::path& file, int block) {
  auto t = medport::ckpt::read_npy_file(file);
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(t.numel()));
  const auto values = t.to_f32();
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::uint8_t>(values[i]);
  const auto cols = t.shape()[1];
  for (int y = 2; y < 2 + block; ++y)
    for (int x = 2; x < 2 + block; ++x) labels[static_cast<std::size_t>(y * cols + x)] = 1;
  medport::ckpt::write_npy_file(file, medport::Tensor::from_bytes(medport::DType::U8, t.shape(), std::as_bytes(std::span(labels))));
}

}  // namespace

TEST_F(EchoEfRefusals, StraySpecksAreRemovedAndReportedNotMeasured) {
  ASSERT_EQ(echo_ef().exit_code, 0);
  const auto clean = medport::testing::read_json(dir_ / "ef.json");
  for (const char* key : {"2CH_ED", "4CH_ED"}) add_corner_block(mask(key), 8);
  const auto r = echo_ef();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = medport::testing::read_json(dir_ / "ef.json");
  for (const char* key : {"EDV_mL", "ESV_mL", "EF_percent"}) EXPECT_DOUBLE_EQ(j[key].get<double>(), clean[key].get<double>()) << key;
  EXPECT_EQ(j["warnings"], nlohmann::json::array({"lv_fragments_removed"}));
  EXPECT_EQ(j["lv_fragments_removed_pixels"]["2CH_ED"], 64);
  EXPECT_EQ(j["lv_fragments_removed_pixels"]["4CH_ED"], 64);
}

TEST_F(EchoEfRefusals, AnLvLabelInSeveralLargeRegionsIsRefused) {
  add_corner_block(mask("4CH_ED"), 60);
  const auto r = echo_ef();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("phantom0001_4CH_ED_gt.npy: the LV label forms 2 separate regions"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "ef.json"));
}

TEST_F(EchoEfRefusals, AnLvLabelCoveringMostOfTheImageIsRefused) {
  auto t = medport::ckpt::read_npy_file(mask("2CH_ES"));
  std::vector<std::uint8_t> inverted(static_cast<std::size_t>(t.numel()));
  const auto values = t.to_f32();
  for (std::size_t i = 0; i < inverted.size(); ++i) inverted[i] = values[i] == 1.0F ? 0 : 1;
  medport::ckpt::write_npy_file(mask("2CH_ES"), medport::Tensor::from_bytes(medport::DType::U8, t.shape(),
                                                                            std::as_bytes(std::span(inverted))));
  const auto r = echo_ef();
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("of the image: not a cavity"), std::string::npos) << r.err;
}

TEST_F(EchoEfRefusals, AnExportThatCannotBeWrittenStopsBeforeTheJson) {
  fs::create_directories(dir_ / "a_folder");
  const auto r = echo_ef({"--fhir", (dir_ / "a_folder").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "ef.json"));
}
