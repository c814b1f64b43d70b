// `medport evaluate` through the binary on hand-computed label maps (10 x 10, spacing 1 x 2 mm).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

struct Box {
  int r0, r1, c0, c1;  // inclusive
  std::uint8_t label;
};

void write_map(const fs::path& path, std::initializer_list<Box> boxes, std::int64_t rows = 10, std::int64_t cols = 10) {
  std::vector<std::uint8_t> v(static_cast<std::size_t>(rows * cols), 0);
  for (const auto& b : boxes)
    for (int r = b.r0; r <= b.r1; ++r)
      for (int c = b.c0; c <= b.c1; ++c) v[static_cast<std::size_t>(r * cols + c)] = b.label;
  medport::ckpt::write_npy_file(
      path, medport::Tensor::from_bytes(medport::DType::U8, {rows, cols}, std::as_bytes(std::span(v))));
}

class EvaluateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
    // case a: label 1, 4x4 squares one column apart; label 2 absent from both.
    write_map(dir_ / "gt" / "a_gt.npy", {{2, 5, 2, 5, 1}});
    write_map(dir_ / "pred" / "a_seg.npy", {{2, 5, 3, 6, 1}});
    // case b: label 1 identical; label 2 only in the reference.
    write_map(dir_ / "gt" / "b_gt.npy", {{2, 5, 2, 5, 1}, {7, 8, 7, 8, 2}});
    write_map(dir_ / "pred" / "b_seg.npy", {{2, 5, 2, 5, 1}});
  }
  TempDir dir_;
};

// Hand computation for case a, label 1 (row spacing 1 mm, column spacing 2 mm):
// overlap 12 of 16 + 16 px -> Dice 0.75, IoU 12/20, precision = recall = 0.75.
// Boundary distances, each direction: six 0 mm, two 1 mm, four 2 mm -> HD 2, HD95 2,
// ASSD = (2 * 1 + 4 * 2) / 12 = 10/12 mm.
TEST_F(EvaluateCli, FoldersMatchedByCaseWithHandComputedMetrics) {
  const auto r = run_medport({"evaluate", (dir_ / "pred").string(), (dir_ / "gt").string(), "--labels", "1,2",
                              "--spacing", "1,2", "-o", (dir_ / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const auto j = medport::testing::read_json(dir_ / "out" / "metrics.json");
  ASSERT_EQ(j["cases"].size(), 2u);
  const auto& a = j["cases"][0];
  ASSERT_EQ(a["case"], "a");
  const auto& a1 = a["labels"][0];
  EXPECT_EQ(a1["label"], 1);
  EXPECT_NEAR(a1["dice"].get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(a1["iou"].get<double>(), 0.6, 1e-12);
  EXPECT_NEAR(a1["precision"].get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(a1["recall"].get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(a1["hausdorff_mm"].get<double>(), 2.0, 1e-12);
  EXPECT_NEAR(a1["hd95_mm"].get<double>(), 2.0, 1e-12);
  EXPECT_NEAR(a1["assd_mm"].get<double>(), 10.0 / 12.0, 1e-12);
  // label 2 empty in both: undefined (null) everywhere
  const auto& a2 = a["labels"][1];
  EXPECT_TRUE(a2["dice"].is_null());
  EXPECT_TRUE(a2["hausdorff_mm"].is_null());
  // case b, label 2: reference only -> Dice 0, recall 0, precision undefined, distances infinite
  const auto& b2 = j["cases"][1]["labels"][1];
  EXPECT_EQ(b2["dice"].get<double>(), 0.0);
  EXPECT_EQ(b2["recall"].get<double>(), 0.0);
  EXPECT_TRUE(b2["precision"].is_null());
  EXPECT_TRUE(b2["hausdorff_mm"].is_null());

  // mean / population std over the two cases
  const auto& s1 = j["summary"]["1"];
  EXPECT_NEAR(s1["dice"]["mean"].get<double>(), 0.875, 1e-12);
  EXPECT_NEAR(s1["dice"]["std"].get<double>(), 0.125, 1e-12);
  EXPECT_NEAR(s1["iou"]["mean"].get<double>(), 0.8, 1e-12);
  EXPECT_NEAR(s1["hausdorff_mm"]["mean"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(s1["hausdorff_mm"]["std"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(s1["assd_mm"]["mean"].get<double>(), 5.0 / 12.0, 1e-12);
  const auto& s2 = j["summary"]["2"];
  EXPECT_NEAR(s2["dice"]["mean"].get<double>(), 0.0, 1e-12);
  EXPECT_EQ(s2["dice"]["count"], 1);
  EXPECT_EQ(s2["dice"]["nan_count"], 1);
  // infinite Hausdorff replaced by the image diagonal sqrt(10^2 + 20^2) mm
  EXPECT_NEAR(s2["hausdorff_mm"]["mean"].get<double>(), std::sqrt(500.0), 1e-9);
  EXPECT_EQ(s2["hausdorff_mm"]["substituted"], 1);

  const std::string csv = medport::testing::read_text(dir_ / "out" / "metrics.csv");
  EXPECT_NE(csv.find("a,1,16,16,0.75,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",inf"), std::string::npos) << csv;
  const std::string summary = medport::testing::read_text(dir_ / "out" / "summary.csv");
  EXPECT_NE(summary.find("1,dice,0.875,0.125,2,0,0"), std::string::npos) << summary;
  EXPECT_NE(r.out.find("0.8750 +- 0.1250"), std::string::npos) << r.out;
}

TEST_F(EvaluateCli, SingleFilesAndDefaultLabels) {
  const auto r = run_medport({"evaluate", (dir_ / "pred" / "a_seg.npy").string(), (dir_ / "gt" / "a_gt.npy").string(),
                              "--spacing", "1,2", "-o", (dir_ / "one").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = medport::testing::read_json(dir_ / "one" / "metrics.json");
  ASSERT_EQ(j["cases"].size(), 1u);
  ASSERT_EQ(j["cases"][0]["labels"].size(), 1u);  // only label 1 is present
  EXPECT_NEAR(j["cases"][0]["labels"][0]["dice"].get<double>(), 0.75, 1e-12);
}

TEST_F(EvaluateCli, RefusesBadInputs) {
  fs::remove(dir_ / "pred" / "b_seg.npy");
  auto r = run_medport({"evaluate", (dir_ / "pred").string(), (dir_ / "gt").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("b"), std::string::npos);
  write_map(dir_ / "pred" / "b_seg.npy", {{2, 5, 2, 5, 1}}, 10, 12);
  r = run_medport({"evaluate", (dir_ / "pred").string(), (dir_ / "gt").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("shape"), std::string::npos) << r.err;
  r = run_medport({"evaluate", (dir_ / "pred").string(), (dir_ / "gt").string(), "--labels", "1,x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_medport({"evaluate", (dir_ / "pred" / "a_seg.npy").string(), (dir_ / "gt").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
