// Segmentation metrics: hand-computed squares and cubes shifted by known offsets, MONAI's
// empty-mask conventions, and random label maps cross-checked against scipy at test time.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "medport/error.hpp"
#include "medport/metrics/segmentation_metrics.hpp"
#include "test_support.hpp"

namespace mi = medport::imaging;
namespace mm = medport::metrics;

namespace {

void fill_box(mi::LabelImage& image, std::vector<std::int64_t> lo, std::vector<std::int64_t> hi, std::uint8_t label) {
  if (image.ndim() == 2) {
    for (auto r = lo[0]; r < hi[0]; ++r)
      for (auto c = lo[1]; c < hi[1]; ++c) image.at(r, c) = label;
  } else {
    for (auto z = lo[0]; z < hi[0]; ++z)
      for (auto r = lo[1]; r < hi[1]; ++r)
        for (auto c = lo[2]; c < hi[2]; ++c) image.at(z, r, c) = label;
  }
}

std::string full(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

}  // namespace

TEST(SegmentationMetrics, SquareShiftedByThreeColumns) {
  // Reference: rows/cols 10..19; prediction shifted 3 columns (cols 13..22). Overlap 70 px.
  // Boundary distances (36 boundary pixels each way): 14 x 0, 4 x 1, 4 x 2, 14 x 3.
  mi::LabelImage reference({40, 40}, {0.8, 0.8});
  mi::LabelImage prediction({40, 40}, {0.8, 0.8});
  fill_box(reference, {10, 10}, {20, 20}, 1);
  fill_box(prediction, {10, 13}, {20, 23}, 1);
  const auto result = mm::segmentation_metrics(prediction, reference);
  ASSERT_EQ(result.size(), 1U);
  const auto& m = result[0];
  EXPECT_EQ(m.label, 1);
  EXPECT_EQ(m.true_positives, 70);
  EXPECT_DOUBLE_EQ(m.dice, 0.7);
  EXPECT_DOUBLE_EQ(m.iou, 70.0 / 130.0);
  EXPECT_DOUBLE_EQ(m.precision, 0.7);
  EXPECT_DOUBLE_EQ(m.recall, 0.7);
  EXPECT_NEAR(m.hausdorff_mm, 3 * 0.8, 1e-12);
  EXPECT_NEAR(m.hd95_mm, 3 * 0.8, 1e-12);  // position 0.95 * 35 = 33.25 lies among the 3s
  EXPECT_NEAR(m.assd_mm, 54.0 / 36.0 * 0.8, 1e-12);
  EXPECT_NEAR(m.worst_case_mm, std::sqrt(2.0) * 32.0, 1e-12);
}

TEST(SegmentationMetrics, CubeShiftedAlongCoarseAxis) {
  // 4^3 cubes, the prediction shifted 2 slices along z with 2 mm slices: HD = 4 mm,
  // Dice = 2 * 32 / 128.
  mi::LabelImage reference({10, 10, 10}, {2.0, 1.0, 1.0});
  mi::LabelImage prediction({10, 10, 10}, {2.0, 1.0, 1.0});
  fill_box(reference, {2, 2, 2}, {6, 6, 6}, 3);
  fill_box(prediction, {4, 2, 2}, {8, 6, 6}, 3);
  const auto m = mm::segmentation_metrics(prediction, reference).at(0);
  EXPECT_EQ(m.label, 3);
  EXPECT_DOUBLE_EQ(m.dice, 0.5);
  EXPECT_DOUBLE_EQ(m.iou, 32.0 / 96.0);
  EXPECT_DOUBLE_EQ(m.hausdorff_mm, 4.0);
  EXPECT_LE(m.hd95_mm, 4.0);
  EXPECT_GT(m.assd_mm, 0.0);
  EXPECT_LT(m.assd_mm, 4.0);
}

TEST(SegmentationMetrics, IdenticalMasksAreZeroDistance) {
  mi::LabelImage image({20, 20});
  fill_box(image, {3, 3}, {9, 12}, 2);
  const auto m = mm::segmentation_metrics(image, image).at(0);
  EXPECT_EQ(m.dice, 1.0);
  EXPECT_EQ(m.iou, 1.0);
  EXPECT_EQ(m.hausdorff_mm, 0.0);
  EXPECT_EQ(m.hd95_mm, 0.0);
  EXPECT_EQ(m.assd_mm, 0.0);
}

TEST(SegmentationMetrics, EmptyMaskConventions) {
  mi::LabelImage empty({10, 10});
  mi::LabelImage full_mask({10, 10});
  fill_box(full_mask, {2, 2}, {5, 5}, 1);
  mm::MetricsOptions options;
  options.labels = {1};

  const auto both = mm::segmentation_metrics(empty, empty, options).at(0);
  EXPECT_TRUE(std::isnan(both.dice));
  EXPECT_TRUE(std::isnan(both.iou));
  EXPECT_TRUE(std::isnan(both.precision));
  EXPECT_TRUE(std::isnan(both.recall));
  EXPECT_TRUE(std::isnan(both.hausdorff_mm));
  EXPECT_TRUE(std::isnan(both.hd95_mm));
  EXPECT_TRUE(std::isnan(both.assd_mm));

  const auto missed = mm::segmentation_metrics(empty, full_mask, options).at(0);  // prediction empty
  EXPECT_EQ(missed.dice, 0.0);
  EXPECT_EQ(missed.iou, 0.0);
  EXPECT_TRUE(std::isnan(missed.precision));
  EXPECT_EQ(missed.recall, 0.0);
  EXPECT_TRUE(std::isinf(missed.hausdorff_mm));
  EXPECT_TRUE(std::isinf(missed.hd95_mm));
  EXPECT_TRUE(std::isinf(missed.assd_mm));

  const auto spurious = mm::segmentation_metrics(full_mask, empty, options).at(0);  // reference empty
  EXPECT_TRUE(std::isnan(spurious.dice));
  EXPECT_EQ(spurious.precision, 0.0);
  EXPECT_TRUE(std::isnan(spurious.recall));
  EXPECT_TRUE(std::isinf(spurious.hausdorff_mm));

  options.ignore_empty = false;
  EXPECT_EQ(mm::segmentation_metrics(empty, empty, options).at(0).dice, 1.0);
  EXPECT_EQ(mm::segmentation_metrics(empty, empty, options).at(0).iou, 1.0);
  EXPECT_EQ(mm::segmentation_metrics(full_mask, empty, options).at(0).dice, 0.0);
  EXPECT_EQ(mm::segmentation_metrics(full_mask, empty, options).at(0).iou, 0.0);
}

TEST(SegmentationMetrics, LabelsDefaultToPresentForeground) {
  mi::LabelImage a({8, 8});
  mi::LabelImage b({8, 8});
  fill_box(a, {0, 0}, {2, 2}, 1);
  fill_box(b, {4, 4}, {6, 6}, 4);
  const auto result = mm::segmentation_metrics(a, b);
  ASSERT_EQ(result.size(), 2U);
  EXPECT_EQ(result[0].label, 1);
  EXPECT_EQ(result[1].label, 4);
}

TEST(SegmentationMetrics, RejectsMismatchedInputs) {
  mi::LabelImage a({8, 8});
  mi::LabelImage b({8, 9});
  EXPECT_THROW(mm::segmentation_metrics(a, b), medport::InputError);
  mi::LabelImage c({8, 8}, {1.0, 1.0});
  mi::LabelImage d({8, 8}, {1.0, 2.0});
  EXPECT_THROW(mm::segmentation_metrics(c, d), medport::InputError);
}

TEST(SegmentationMetrics, PercentileIsLinear) {
  EXPECT_DOUBLE_EQ(mm::percentile_linear({1, 2, 3, 4}, 50), 2.5);
  EXPECT_DOUBLE_EQ(mm::percentile_linear({0, 10}, 95), 9.5);
  EXPECT_DOUBLE_EQ(mm::percentile_linear({5}, 95), 5.0);
  EXPECT_TRUE(std::isnan(mm::percentile_linear({}, 95)));
  EXPECT_THROW(mm::percentile_linear({1.0}, 101), medport::UsageError);
}

TEST(SegmentationMetrics, BoundaryIncludesImageBorder) {
  // A full 3x4 mask: outside the image counts as background, so only (1,1) and (1,2) are interior.
  const std::vector<std::uint8_t> mask(12, 1);
  const auto boundary = mm::mask_boundary(mask, std::vector<std::int64_t>{3, 4});
  EXPECT_EQ(boundary, (std::vector<std::uint8_t>{1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1}));
  // A 5x5 block inside 7x7: 16 boundary pixels, 9 interior.
  std::vector<std::uint8_t> block(49, 0);
  for (int r = 1; r < 6; ++r)
    for (int c = 1; c < 6; ++c) block[static_cast<std::size_t>(r * 7 + c)] = 1;
  const auto ring = mm::mask_boundary(block, std::vector<std::int64_t>{7, 7});
  EXPECT_EQ(std::count(ring.begin(), ring.end(), 1), 16);
  EXPECT_EQ(ring[3 * 7 + 3], 0);
}

// MONAI's recipe spelled out with scipy: edges = m ^ binary_erosion(m), distances from
// distance_transform_edt(~edges, sampling), per-direction percentile, max of the two.
TEST(SegmentationMetricsCrossCheck, RandomLabelMapsMatchScipy) {
  medport::testing::TempDir tmp;
  std::mt19937 rng(2024);
  std::vector<std::pair<mi::LabelImage, mi::LabelImage>> cases;
  std::ostringstream code;
  code << "import numpy as np\nfrom scipy.ndimage import distance_transform_edt, binary_erosion\n"
          "def sd(a, b, sp):\n"
          "  return distance_transform_edt(~b, sampling=sp)[a]\n"
          "def run(p, r, sp):\n"
          "  for l in (1, 2):\n"
          "    P, R = p == l, r == l\n"
          "    ep, er = P ^ binary_erosion(P), R ^ binary_erosion(R)\n"
          "    d1, d2 = sd(ep, er, sp), sd(er, ep, sp)\n"
          "    dice = 2 * (P & R).sum() / (P.sum() + R.sum())\n"
          "    hd = max(d1.max(), d2.max())\n"
          "    hd95 = max(np.percentile(d1, 95), np.percentile(d2, 95))\n"
          "    assd = np.concatenate([d1, d2]).mean()\n"
          "    print(repr(float(dice)), repr(float(hd)), repr(float(hd95)), repr(float(assd)))\n";
  for (int t = 0; t < 6; ++t) {
    const bool volume = t >= 3;
    std::vector<std::int64_t> shape;
    std::vector<double> spacing;
    for (int a = 0; a < (volume ? 3 : 2); ++a) {
      shape.push_back(6 + static_cast<std::int64_t>(rng() % (volume ? 12 : 40)));
      spacing.push_back(0.25 + static_cast<double>(rng() % 800) / 200.0);
    }
    mi::LabelImage prediction(shape, spacing);
    mi::LabelImage reference(shape, spacing);
    // Blobby maps: a few random boxes of labels 1 and 2 in each image.
    for (auto* image : {&prediction, &reference}) {
      for (int box = 0; box < 6; ++box) {
        std::vector<std::int64_t> lo;
        std::vector<std::int64_t> hi;
        for (auto e : shape) {
          const auto a = static_cast<std::int64_t>(rng() % static_cast<unsigned>(e));
          const auto b = static_cast<std::int64_t>(rng() % static_cast<unsigned>(e));
          lo.push_back(std::min(a, b));
          hi.push_back(std::max(a, b) + 1);
        }
        fill_box(*image, lo, hi, static_cast<std::uint8_t>(1 + box % 2));
      }
    }
    const auto pfile = tmp / ("p" + std::to_string(t) + ".bin");
    const auto rfile = tmp / ("r" + std::to_string(t) + ".bin");
    std::ofstream(pfile, std::ios::binary)
        .write(reinterpret_cast<const char*>(prediction.labels.data()), static_cast<std::streamsize>(prediction.labels.size()));
    std::ofstream(rfile, std::ios::binary)
        .write(reinterpret_cast<const char*>(reference.labels.data()), static_cast<std::streamsize>(reference.labels.size()));
    std::ostringstream dims;
    std::ostringstream sampling;
    for (auto e : shape) dims << e << ",";
    for (double s : spacing) sampling << full(s) << ",";
    code << "run(np.fromfile(r'" << pfile.string() << "',dtype=np.uint8).reshape(" << dims.str() << "), np.fromfile(r'"
         << rfile.string() << "',dtype=np.uint8).reshape(" << dims.str() << "), [" << sampling.str() << "])\n";
    cases.emplace_back(std::move(prediction), std::move(reference));
  }
  const auto result = medport::testing::run_program({MEDPORT_PYTHON, "-c", code.str()});
  if (result.exit_code != 0) {
    if (result.err.find("ModuleNotFoundError") != std::string::npos || result.err.find("cannot start") != std::string::npos) {
      GTEST_SKIP() << "python3 with scipy not available";
    }
    FAIL() << result.err;
  }
  std::istringstream in(result.out);
  mm::MetricsOptions options;
  options.labels = {1, 2};
  for (std::size_t t = 0; t < cases.size(); ++t) {
    const auto metrics = mm::segmentation_metrics(cases[t].first, cases[t].second, options);
    for (const auto& m : metrics) {
      SCOPED_TRACE("case " + std::to_string(t) + " label " + std::to_string(m.label));
      double dice = 0;
      double hd = 0;
      double hd95 = 0;
      double assd = 0;
      ASSERT_TRUE(in >> dice >> hd >> hd95 >> assd);
      EXPECT_NEAR(m.dice, dice, 1e-12);
      EXPECT_NEAR(m.hausdorff_mm, hd, 1e-9);
      EXPECT_NEAR(m.hd95_mm, hd95, 1e-9);
      EXPECT_NEAR(m.assd_mm, assd, 1e-9);
    }
  }
}
