// Aggregation of per-case metrics (mean, population std, NaN and inf handling) and the
// CSV / JSON writers, on hand-made values.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "medport/error.hpp"
#include "medport/metrics/aggregate.hpp"
#include "test_support.hpp"

namespace mm = medport::metrics;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

mm::LabelMetrics label_metrics(std::uint8_t label, double dice, double hd, double worst) {
  mm::LabelMetrics m;
  m.label = label;
  m.reference_voxels = 10;
  m.prediction_voxels = 12;
  m.true_positives = 8;
  m.dice = dice;
  m.iou = dice / 2;
  m.precision = 0.5;
  m.recall = 0.25;
  m.hausdorff_mm = hd;
  m.hd95_mm = hd;
  m.assd_mm = hd / 2;
  m.worst_case_mm = worst;
  return m;
}

std::vector<mm::CaseMetrics> sample_cases() {
  return {{"case_a", {label_metrics(1, 0.5, 2.0, 100.0), label_metrics(2, kNaN, kNaN, 100.0)}},
          {"case,b", {label_metrics(1, 1.0, kInf, 10.0), label_metrics(2, 0.25, 4.0, 10.0)}}};
}

}  // namespace

TEST(MetricsAggregate, MeanStdNanAndWorstCase) {
  const auto table = mm::aggregate_metrics(sample_cases());
  const auto& dice1 = table.at(1).at("dice");
  EXPECT_DOUBLE_EQ(dice1.mean, 0.75);
  EXPECT_DOUBLE_EQ(dice1.std, 0.25);  // population std of {0.5, 1.0}
  EXPECT_EQ(dice1.count, 2U);
  // The inf Hausdorff of case_b is replaced by its worst case 10: {2, 10} -> mean 6, std 4.
  const auto& hd1 = table.at(1).at("hausdorff_mm");
  EXPECT_DOUBLE_EQ(hd1.mean, 6.0);
  EXPECT_DOUBLE_EQ(hd1.std, 4.0);
  EXPECT_EQ(hd1.substituted, 1U);
  // NaN (undefined) values are left out and counted.
  const auto& dice2 = table.at(2).at("dice");
  EXPECT_DOUBLE_EQ(dice2.mean, 0.25);
  EXPECT_DOUBLE_EQ(dice2.std, 0.0);
  EXPECT_EQ(dice2.count, 1U);
  EXPECT_EQ(dice2.nan_count, 1U);
}

TEST(MetricsAggregate, WithoutSubstitutionInfinityPropagates) {
  const auto table = mm::aggregate_metrics(sample_cases(), false);
  EXPECT_TRUE(std::isinf(table.at(1).at("hausdorff_mm").mean));
  EXPECT_TRUE(std::isnan(table.at(1).at("hausdorff_mm").std));
  EXPECT_EQ(table.at(1).at("hausdorff_mm").substituted, 0U);
}

TEST(MetricsAggregate, CsvRows) {
  const auto csv = mm::metrics_csv(sample_cases());
  std::istringstream lines(csv);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header, "case,label,reference_voxels,prediction_voxels,dice,iou,precision,recall,hausdorff_mm,hd95_mm,assd_mm");
  std::string row;
  std::getline(lines, row);
  EXPECT_EQ(row, "case_a,1,10,12,0.5,0.25,0.5,0.25,2,2,1");
  std::getline(lines, row);
  EXPECT_EQ(row, "case_a,2,10,12,nan,nan,0.5,0.25,nan,nan,nan");
  std::getline(lines, row);
  EXPECT_EQ(row, "\"case,b\",1,10,12,1,0.5,0.5,0.25,inf,inf,inf");
}

TEST(MetricsAggregate, JsonAndAtomicFiles) {
  medport::testing::TempDir tmp;
  mm::write_metrics_json(tmp / "out/metrics.json", sample_cases());
  mm::write_metrics_csv(tmp / "out/metrics.csv", sample_cases());
  const auto doc = nlohmann::json::parse(medport::testing::read_text(tmp / "out/metrics.json"));
  ASSERT_EQ(doc.at("cases").size(), 2U);
  EXPECT_EQ(doc["cases"][1]["case"], "case,b");
  EXPECT_TRUE(doc["cases"][1]["labels"][0]["hausdorff_mm"].is_null());
  EXPECT_EQ(doc["cases"][1]["labels"][0]["hausdorff_mm_is_inf"], true);
  EXPECT_TRUE(doc["cases"][0]["labels"][1]["dice"].is_null());
  EXPECT_DOUBLE_EQ(doc["summary"]["1"]["hausdorff_mm"]["mean"].get<double>(), 6.0);
  EXPECT_EQ(doc["summary"]["1"]["hausdorff_mm"]["substituted"], 1);
  EXPECT_EQ(doc["summary"]["2"]["dice"]["nan_count"], 1);
  EXPECT_EQ(medport::testing::read_text(tmp / "out/metrics.csv"), mm::metrics_csv(sample_cases()));
  EXPECT_THROW(mm::metric_value(mm::LabelMetrics{}, "volume"), medport::UsageError);
}
