// Marching squares (skimage.measure.find_contours) and PIL nearest resizing: hand-computed
// cases, then random masks cross-checked against skimage and Pillow run at test time.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "medport/error.hpp"
#include "medport/metrics/contours.hpp"
#include "test_support.hpp"

namespace mi = medport::imaging;
namespace mm = medport::metrics;

namespace {

mi::LabelImage image_from(std::int64_t rows, std::int64_t cols, const std::vector<std::uint8_t>& labels) {
  mi::LabelImage image({rows, cols});
  image.labels = labels;
  return image;
}

// Runs a Python snippet with /usr/bin/python3; skips the test when Python or a module is missing.
std::string run_python(const std::string& code, bool* skipped) {
  const auto result = medport::testing::run_program({MEDPORT_PYTHON, "-c", code});
  *skipped = result.exit_code != 0 && (result.err.find("ModuleNotFoundError") != std::string::npos ||
                                       result.err.find("cannot start") != std::string::npos || result.exit_code == 127);
  if (result.exit_code != 0 && !*skipped) ADD_FAILURE() << "python failed: " << result.err;
  return result.out;
}

void write_bytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST(FindContours, SinglePixelClosedLoop) {
  const auto contours = mm::find_contours(image_from(3, 3, {0, 0, 0, 0, 1, 0, 0, 0, 0}), 0.5);
  ASSERT_EQ(contours.size(), 1U);
  const mm::Contour expected{{1.5, 1.0}, {1.0, 0.5}, {0.5, 1.0}, {1.0, 1.5}, {1.5, 1.0}};
  EXPECT_EQ(contours[0], expected);
}

TEST(FindContours, DiagonalPixelsStaySeparateAndOrdered) {
  // Low values are connected at the saddle, so the two diagonal pixels give two contours;
  // the open one at the image corner was started first.
  const auto contours = mm::find_contours(image_from(3, 3, {1, 0, 0, 0, 1, 0, 0, 0, 0}), 0.5);
  ASSERT_EQ(contours.size(), 2U);
  EXPECT_EQ(contours[0], (mm::Contour{{0.0, 0.5}, {0.5, 0.0}}));
  EXPECT_EQ(contours[1], (mm::Contour{{1.5, 1.0}, {1.0, 0.5}, {0.5, 1.0}, {1.0, 1.5}, {1.5, 1.0}}));
}

TEST(FindContours, FractionalCrossings) {
  // Values 0 and 4 with level 1: crossings a quarter of the way from the low side.
  const std::vector<double> values{0, 0, 4, 4};
  const auto contours = mm::find_contours(values, 2, 2, 1.0);
  ASSERT_EQ(contours.size(), 1U);
  EXPECT_EQ(contours[0], (mm::Contour{{0.25, 0.0}, {0.25, 1.0}}));
  EXPECT_THROW(mm::find_contours(std::vector<double>{1, 2}, 1, 2, 0.5), medport::InputError);
}

TEST(ResizeNearestPil, HandComputed) {
  // 2 -> 5 columns: scale 0.4, positions 0.2, 0.6, 1.0, 1.4, 1.8 -> sources 0, 0, 1, 1, 1.
  const auto out = mm::resize_nearest_pil(image_from(1 + 1, 2, {1, 2, 3, 4}), 2, 5);
  EXPECT_EQ(out.labels, (std::vector<std::uint8_t>{1, 1, 2, 2, 2, 3, 3, 4, 4, 4}));
  // 5 -> 2 columns: scale 2.5, positions 1.25, 3.75 -> sources 1, 3.
  const auto down = mm::resize_nearest_pil(image_from(1 + 1, 5, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}), 2, 2);
  EXPECT_EQ(down.labels, (std::vector<std::uint8_t>{1, 3, 6, 8}));
}

TEST(ResizeNearestPil, IsotropicSizeRoundsHalfToEven) {
  // 3 x 5 rows x cols at (1.5, 1.0) mm: rows 3 * 1.5 = 4.5 -> 4 (half to even), cols 5.
  mi::LabelImage image({3, 5}, {1.5, 1.0});
  const auto [iso, spacing] = mm::resize_to_isotropic(image);
  EXPECT_EQ(iso.shape, (std::vector<std::int64_t>{4, 5}));
  EXPECT_DOUBLE_EQ(spacing, 1.0);
}

TEST(FindContoursCrossCheck, RandomMasksMatchSkimage) {
  medport::testing::TempDir tmp;
  std::mt19937 rng(1234);
  std::ostringstream expected_blocks;
  std::vector<std::pair<std::int64_t, std::int64_t>> sizes;
  std::vector<std::vector<std::uint8_t>> masks;
  for (int t = 0; t < 12; ++t) {
    const std::int64_t rows = 3 + static_cast<std::int64_t>(rng() % 30);
    const std::int64_t cols = 3 + static_cast<std::int64_t>(rng() % 30);
    std::vector<std::uint8_t> mask(static_cast<std::size_t>(rows * cols));
    const unsigned density = 20 + rng() % 60;  // percent of ones
    for (auto& v : mask) v = (rng() % 100) < density ? 1 : 0;
    write_bytes(tmp / ("m" + std::to_string(t) + ".bin"), mask);
    sizes.emplace_back(rows, cols);
    masks.push_back(std::move(mask));
  }
  std::ostringstream code;
  code << "import numpy as np\nfrom skimage.measure import find_contours\n";
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    code << "m=np.fromfile(r'" << (tmp / ("m" + std::to_string(t) + ".bin")).string() << "',dtype=np.uint8).reshape("
         << sizes[t].first << "," << sizes[t].second << ")\n"
         << "cs=find_contours(m.astype(float),0.5)\nprint(len(cs))\n"
         << "for c in cs:\n  print(len(c),' '.join(repr(float(v)) for v in c.ravel()))\n";
  }
  bool skipped = false;
  const auto out = run_python(code.str(), &skipped);
  if (skipped) GTEST_SKIP() << "python3 with skimage not available";
  std::istringstream in(out);
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    SCOPED_TRACE("mask " + std::to_string(t));
    const auto contours = mm::find_contours(image_from(sizes[t].first, sizes[t].second, masks[t]), 0.5);
    std::size_t count = 0;
    ASSERT_TRUE(in >> count);
    ASSERT_EQ(contours.size(), count);
    for (std::size_t k = 0; k < count; ++k) {
      std::size_t length = 0;
      ASSERT_TRUE(in >> length);
      ASSERT_EQ(contours[k].size(), length) << "contour " << k;
      for (std::size_t p = 0; p < length; ++p) {
        double row = 0;
        double col = 0;
        ASSERT_TRUE(in >> row >> col);
        ASSERT_EQ(contours[k][p].row, row) << "contour " << k << " point " << p;
        ASSERT_EQ(contours[k][p].col, col) << "contour " << k << " point " << p;
      }
    }
  }
}

TEST(ResizeNearestPilCrossCheck, RandomSizesMatchPillow) {
  medport::testing::TempDir tmp;
  std::mt19937 rng(99);
  std::vector<std::uint8_t> source(37 * 23);
  for (auto& v : source) v = static_cast<std::uint8_t>(rng() % 256);
  write_bytes(tmp / "src.bin", source);
  const auto image = image_from(37, 23, source);
  std::vector<std::pair<std::int64_t, std::int64_t>> targets;
  for (int t = 0; t < 40; ++t) {
    targets.emplace_back(1 + static_cast<std::int64_t>(rng() % 120), 1 + static_cast<std::int64_t>(rng() % 120));
  }
  std::ostringstream code;
  code << "import numpy as np, PIL.Image as I\nm=np.fromfile(r'" << (tmp / "src.bin").string()
       << "',dtype=np.uint8).reshape(37,23)\nfor h,w in [";
  for (const auto& [h, w] : targets) code << "(" << h << "," << w << "),";
  code << "]:\n  r=np.array(I.fromarray(m).resize((w,h),resample=I.NEAREST))\n  print(' '.join(map(str,r.ravel())))\n";
  bool skipped = false;
  const auto out = run_python(code.str(), &skipped);
  if (skipped) GTEST_SKIP() << "python3 with Pillow not available";
  std::istringstream in(out);
  for (const auto& [h, w] : targets) {
    const auto resized = mm::resize_nearest_pil(image, h, w);
    std::size_t mismatches = 0;
    for (auto value : resized.labels) {
      int expected = -1;
      ASSERT_TRUE(in >> expected);
      if (expected != value) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0U) << h << "x" << w;
  }
}
