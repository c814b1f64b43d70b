// nnU-Net v2 sliding-window geometry against the upstream fixtures and hand-computed cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/sliding_window.hpp"
#include "test_support.hpp"

namespace mi = medport::imaging;
using Steps = std::vector<std::vector<std::int64_t>>;

TEST(SlidingWindowSteps, HandComputed) {
  // 110 with patch 64: n = ceil(46 / 32) + 1 = 3, step 23 -> 0, 23, 46 (the upstream comment's example).
  EXPECT_EQ(mi::sliding_window_steps(std::vector<std::int64_t>{110}, std::vector<std::int64_t>{64}),
            (Steps{{0, 23, 46}}));
  // Equal sizes: one tile at 0.
  EXPECT_EQ(mi::sliding_window_steps(std::vector<std::int64_t>{64, 64}, std::vector<std::int64_t>{64, 64}),
            (Steps{{0}, {0}}));
  // 100 with patch 64: n = ceil(36/32)+1 = 3, step 18 -> 0, 18, 36; 65: n = 2 -> 0, 1.
  EXPECT_EQ(mi::sliding_window_steps(std::vector<std::int64_t>{100, 65}, std::vector<std::int64_t>{64, 64}),
            (Steps{{0, 18, 36}, {0, 1}}));
  // 9 with patch 4: n = ceil(5 / 2) + 1 = 4, step 5/3 -> 0, 1.67->2, 3.33->3, 5.
  EXPECT_EQ(mi::sliding_window_steps(std::vector<std::int64_t>{9}, std::vector<std::int64_t>{4}),
            (Steps{{0, 2, 3, 5}}));
  // Rounding half to even: 11 with patch 6: n = ceil(5 / 3) + 1 = 3, step 2.5 -> 0, round(2.5) = 2, 5.
  EXPECT_EQ(mi::sliding_window_steps(std::vector<std::int64_t>{11}, std::vector<std::int64_t>{6}),
            (Steps{{0, 2, 5}}));
  // I-P = 7, 5 tiles of step 1.75: 0, 1.75->2, 3.5->4, 5.25->5, 7.
  EXPECT_EQ(mi::sliding_window_steps(std::vector<std::int64_t>{11}, std::vector<std::int64_t>{4}, 0.5),
            (Steps{{0, 2, 4, 5, 7}}));
  // step_size 1: n = ceil(36/64)+1 = 2.
  EXPECT_EQ(mi::sliding_window_steps(std::vector<std::int64_t>{100}, std::vector<std::int64_t>{64}, 1.0),
            (Steps{{0, 36}}));
}

TEST(SlidingWindowSteps, RejectsBadArguments) {
  EXPECT_THROW(mi::sliding_window_steps(std::vector<std::int64_t>{50}, std::vector<std::int64_t>{64}),
               medport::UsageError);
  EXPECT_THROW(mi::sliding_window_steps(std::vector<std::int64_t>{80}, std::vector<std::int64_t>{64}, 0.0),
               medport::UsageError);
  EXPECT_THROW(mi::sliding_window_steps(std::vector<std::int64_t>{80}, std::vector<std::int64_t>{64}, 1.5),
               medport::UsageError);
  EXPECT_THROW(mi::sliding_window_steps(std::vector<std::int64_t>{80, 80}, std::vector<std::int64_t>{64}),
               medport::UsageError);
}

TEST(SlidingWindowSteps, TileOriginsFirstAxisOutermost) {
  const auto origins = mi::sliding_window_tile_origins(Steps{{0, 36, 72}, {0, 22}});
  const std::vector<mi::Extent> expected{{0, 0}, {0, 22}, {36, 0}, {36, 22}, {72, 0}, {72, 22}};
  EXPECT_EQ(origins, expected);
}

TEST(SlidingWindowPadding, CentredOddExtraAfter) {
  // The pad_nd_image docstring example: (34, 55, 3) -> at least (34, 96, 64).
  const auto padding = mi::padding_to_min_size(std::vector<std::int64_t>{34, 55, 3}, std::vector<std::int64_t>{34, 96, 64});
  EXPECT_EQ(padding.before, (mi::Extent{0, 20, 30}));
  EXPECT_EQ(padding.after, (mi::Extent{0, 21, 31}));
  EXPECT_EQ(padding.padded_size, (mi::Extent{34, 96, 64}));
  EXPECT_TRUE(padding.any());
  // Larger axes are kept as they are (no crop).
  const auto none = mi::padding_to_min_size(std::vector<std::int64_t>{200, 150}, std::vector<std::int64_t>{128, 128});
  EXPECT_FALSE(none.any());
  EXPECT_EQ(none.padded_size, (mi::Extent{200, 150}));
}

TEST(SlidingWindowPadding, SmallImagePadThenSteps) {
  // A (2, 3) channel-first image of 2 channels smaller than a 4x6 patch along both axes.
  const std::vector<float> values{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::vector<std::int64_t> shape{2, 2, 3};
  const auto padding = mi::padding_to_min_size(std::vector<std::int64_t>{2, 3}, std::vector<std::int64_t>{4, 6});
  EXPECT_EQ(padding.before, (mi::Extent{1, 1}));
  EXPECT_EQ(padding.after, (mi::Extent{1, 2}));
  const auto padded = mi::pad_array(values, shape, padding);
  ASSERT_EQ(padded.size(), 2U * 4U * 6U);
  const std::vector<float> channel0{0, 0, 0, 0, 0, 0,  //
                                    0, 1, 2, 3, 0, 0,  //
                                    0, 4, 5, 6, 0, 0,  //
                                    0, 0, 0, 0, 0, 0};
  EXPECT_EQ(std::vector<float>(padded.begin(), padded.begin() + 24), channel0);
  EXPECT_EQ(padded[24 + 7], 7.0F);
  EXPECT_EQ(padded[24 + 15], 12.0F);
  EXPECT_EQ(mi::sliding_window_steps(padding.padded_size, std::vector<std::int64_t>{4, 6}), (Steps{{0}, {0}}));
  const std::vector<std::int64_t> padded_shape{2, 4, 6};
  EXPECT_EQ(mi::crop_padding(padded, padded_shape, padding), values);
}

TEST(SlidingWindowMirroring, NnunetOrder) {
  const std::vector<int> axes2{0, 1};
  EXPECT_EQ(mi::mirror_axis_combinations(axes2), (std::vector<std::vector<int>>{{0}, {1}, {0, 1}}));
  const std::vector<int> axes3{0, 1, 2};
  EXPECT_EQ(mi::mirror_axis_combinations(axes3),
            (std::vector<std::vector<int>>{{0}, {1}, {2}, {0, 1}, {0, 2}, {1, 2}, {0, 1, 2}}));
  EXPECT_TRUE(mi::mirror_axis_combinations(std::vector<int>{}).empty());
}

TEST(SlidingWindowMirroring, FlipAxes) {
  const std::vector<float> values{1, 2, 3, 4, 5, 6};
  const std::vector<std::int64_t> shape{2, 3};
  EXPECT_EQ(mi::flip_axes(values, shape, std::vector<int>{1}), (std::vector<float>{3, 2, 1, 6, 5, 4}));
  EXPECT_EQ(mi::flip_axes(values, shape, std::vector<int>{0}), (std::vector<float>{4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(mi::flip_axes(values, shape, std::vector<int>{0, 1}), (std::vector<float>{6, 5, 4, 3, 2, 1}));
  EXPECT_THROW(mi::flip_axes(values, shape, std::vector<int>{2}), medport::UsageError);
}

TEST(SlidingWindowGaussian, Float16Rounding) {
  EXPECT_EQ(mi::round_to_float16(1.0), 1.0);
  EXPECT_EQ(mi::round_to_float16(1.0 + 1.0 / 2048.0), 1.0);                  // tie -> even
  EXPECT_EQ(mi::round_to_float16(1.0 + 3.0 / 2048.0), 1.0 + 2.0 / 1024.0);  // tie -> even (up)
  EXPECT_EQ(mi::round_to_float16(1.0 + 1.1 / 2048.0), 1.0 + 1.0 / 1024.0);
  EXPECT_EQ(mi::round_to_float16(std::ldexp(1.0, -25)), 0.0);               // half the smallest subnormal -> 0
  EXPECT_EQ(mi::round_to_float16(std::ldexp(1.5, -25)), std::ldexp(1.0, -24));
  EXPECT_EQ(mi::round_to_float16(65519.0), 65504.0);
  EXPECT_TRUE(std::isinf(mi::round_to_float16(65520.0)));
  EXPECT_EQ(mi::round_to_float16(-9.99), -9.9921875);
}

TEST(SlidingWindowGaussian, SmallPatchHandComputed) {
  // Patch 4: sigma 0.5, radius int(2.5) = 2, impulse at 2. Weights exp(-2 x^2) for |x| <= 2,
  // positions 0..3 are x = -2..1; normalised by the peak and times 10 -> 10 e^{-2 x^2}.
  const auto map = mi::gaussian_importance_map(std::vector<std::int64_t>{4}, mi::GaussianPrecision::Float16);
  ASSERT_EQ(map.size(), 4U);
  const double expected[4] = {10 * std::exp(-8.0), 10 * std::exp(-2.0), 10.0, 10 * std::exp(-2.0)};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(map[i], static_cast<float>(mi::round_to_float16(expected[i]))) << i;
  EXPECT_NEAR(map[0], 0.003354, 1e-5);
  EXPECT_EQ(map[2], 10.0F);
}

namespace {

// The fixture map was made with float32 storage; the float16 map must be that map rounded to fp16.
void expect_gaussian_matches(const std::string& case_name, const std::vector<std::int64_t>& patch) {
  const auto path = medport::testing::fixture("nnunet/" + case_name + "/sliding_window.npz");
  if (path.empty()) GTEST_SKIP() << "fixture nnunet/" << case_name << "/sliding_window.npz not found";
  const auto expected = medport::ckpt::read_npz_member(path, "gaussian");
  ASSERT_EQ(expected.shape(), patch);
  const auto values = expected.to_f32();
  const auto map = mi::gaussian_importance_map(patch, mi::GaussianPrecision::Float32);
  const auto map16 = mi::gaussian_importance_map(patch, mi::GaussianPrecision::Float16);
  ASSERT_EQ(map.size(), values.size());
  ASSERT_EQ(map16.size(), values.size());
  // fp16 of the fixture values, with fp16 underflows replaced by the smallest non-zero value.
  std::vector<float> expected16(values.size());
  float smallest16 = 1e9F;
  for (std::size_t i = 0; i < values.size(); ++i) {
    expected16[i] = static_cast<float>(mi::round_to_float16(values[i]));
    if (expected16[i] != 0.0F) smallest16 = std::min(smallest16, expected16[i]);
  }
  for (auto& v : expected16) v = v == 0.0F ? smallest16 : v;
  std::size_t mismatches = 0;
  std::size_t mismatches16 = 0;
  double worst = 0.0;
  for (std::size_t i = 0; i < map.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(map[i]) - values[i]);
    worst = std::max(worst, diff);
    if (diff > 1e-7) ++mismatches;
    if (map16[i] != expected16[i]) ++mismatches16;
  }
  EXPECT_EQ(mismatches, 0U) << "worst difference " << worst;
  EXPECT_EQ(mismatches16, 0U);
  EXPECT_EQ(*std::max_element(map.begin(), map.end()), 10.0F);
}

void expect_steps_match(const std::string& case_name, const std::vector<std::int64_t>& image_spatial) {
  const auto path = medport::testing::fixture("nnunet/" + case_name + "/sliding_window_steps.json");
  if (path.empty()) GTEST_SKIP() << "fixture nnunet/" << case_name << "/sliding_window_steps.json not found";
  std::ifstream in(path);
  const auto json = nlohmann::json::parse(in);
  const auto patch = json.at("patch").get<std::vector<std::int64_t>>();
  const auto expected = json.at("steps").get<Steps>();
  const auto padding = mi::padding_to_min_size(image_spatial, patch);
  EXPECT_EQ(mi::sliding_window_steps(padding.padded_size, patch, json.at("step_size").get<double>()), expected);
}

}  // namespace

TEST(SlidingWindowFixture, GaussianCamus2d) { expect_gaussian_matches("camus2d_small", {128, 128}); }
TEST(SlidingWindowFixture, GaussianResenc3d) { expect_gaussian_matches("resenc3d_small", {16, 64, 64}); }
// The fixture images are (1, 200, 150) and (1, 20, 90, 70).
TEST(SlidingWindowFixture, StepsCamus2d) { expect_steps_match("camus2d_small", {200, 150}); }
TEST(SlidingWindowFixture, StepsResenc3d) { expect_steps_match("resenc3d_small", {20, 90, 70}); }

// compute_gaussian re-run with scipy/numpy at test time for odd and mixed patch sizes, in both
// precisions (numpy's float64 -> float16 cast rounds like torch's: to nearest, ties to even).
TEST(SlidingWindowGaussianCrossCheck, OddPatchesMatchScipy) {
  const std::vector<std::vector<std::int64_t>> patches{{5, 7}, {33}, {3, 17, 9}, {20, 1}, {96, 80}};
  std::ostringstream code;
  code << "import numpy as np\nfrom scipy.ndimage import gaussian_filter\n"
          "for P in [";
  for (const auto& patch : patches) {
    code << "(";
    for (auto e : patch) code << e << ",";
    code << "),";
  }
  code << "]:\n"
          "  t = np.zeros(P); t[tuple(p // 2 for p in P)] = 1\n"
          "  g = gaussian_filter(t, [p / 8 for p in P], 0, mode='constant', cval=0)\n"
          "  g = g / g.max() * 10\n"
          "  for h in (g.astype(np.float16), g.astype(np.float32)):\n"
          "    h[h == 0] = h[h != 0].min()\n"
          "    print(' '.join(repr(float(v)) for v in h.ravel()))\n";
  const auto result = medport::testing::run_program({MEDPORT_PYTHON, "-c", code.str()});
  if (result.exit_code != 0) {
    if (result.err.find("ModuleNotFoundError") != std::string::npos || result.err.find("cannot start") != std::string::npos) {
      GTEST_SKIP() << "python3 with scipy not available";
    }
    FAIL() << result.err;
  }
  std::istringstream in(result.out);
  for (const auto& patch : patches) {
    for (auto precision : {mi::GaussianPrecision::Float16, mi::GaussianPrecision::Float32}) {
      const auto map = mi::gaussian_importance_map(patch, precision);
      std::size_t mismatches = 0;
      for (float value : map) {
        double expected = 0;
        ASSERT_TRUE(in >> expected);
        if (static_cast<double>(value) != expected) ++mismatches;
      }
      EXPECT_EQ(mismatches, 0U) << "patch of " << map.size() << " values, fp16=" << (precision == mi::GaussianPrecision::Float16);
    }
  }
}
