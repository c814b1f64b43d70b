// Exact anisotropic Euclidean distance transform: hand-computed grids, then random 2D/3D
// masks cross-checked against scipy.ndimage.distance_transform_edt(sampling=...) at test time.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "medport/error.hpp"
#include "medport/metrics/distance_transform.hpp"
#include "test_support.hpp"

namespace mi = medport::imaging;
namespace mm = medport::metrics;

namespace {
// Full precision, so Python sees exactly the spacing the C++ side used.
std::string fmt_double(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}
}  // namespace

TEST(DistanceTransform, LineWithSpacing) {
  const std::vector<std::uint8_t> features{1, 0, 0, 0, 0};
  const std::vector<std::int64_t> shape{5};
  const std::vector<double> spacing{2.0};
  EXPECT_EQ(mm::distance_to_nearest_feature(features, shape, spacing), (std::vector<double>{0, 2, 4, 6, 8}));
}

TEST(DistanceTransform, AnisotropicPlane) {
  // Feature at the centre of 3x3, spacing (1 row, 2 col): edge neighbours 1 and 2, corners sqrt(5).
  std::vector<std::uint8_t> features(9, 0);
  features[4] = 1;
  const auto d = mm::distance_to_nearest_feature(features, std::vector<std::int64_t>{3, 3}, std::vector<double>{1.0, 2.0});
  const double c = std::sqrt(5.0);
  const std::vector<double> expected{c, 1, c, 2, 0, 2, c, 1, c};
  for (std::size_t i = 0; i < 9; ++i) EXPECT_DOUBLE_EQ(d[i], expected[i]) << i;
}

TEST(DistanceTransform, VolumeCornerAndEmpty) {
  std::vector<std::uint8_t> features(27, 0);
  features[0] = 1;
  const std::vector<std::int64_t> shape{3, 3, 3};
  const auto d = mm::distance_to_nearest_feature(features, shape, std::vector<double>{3.0, 1.0, 2.0});
  EXPECT_DOUBLE_EQ(d[26], std::sqrt(36.0 + 4.0 + 16.0));  // (2,2,2)
  EXPECT_DOUBLE_EQ(d[9], 3.0);                            // (1,0,0)
  EXPECT_DOUBLE_EQ(d[1], 2.0);                            // (0,0,1)
  const auto none = mm::distance_to_nearest_feature(std::vector<std::uint8_t>(27, 0), shape, {});
  for (double v : none) EXPECT_TRUE(std::isinf(v));
}

TEST(DistanceTransform, NearestOfSeveralFeatures) {
  // Features at columns 0 and 6 of a 1x7 row: distances 0 1 2 3 2 1 0.
  const std::vector<std::uint8_t> features{1, 0, 0, 0, 0, 0, 1};
  const auto d = mm::distance_to_nearest_feature(features, std::vector<std::int64_t>{1, 7}, {});
  EXPECT_EQ(d, (std::vector<double>{0, 1, 2, 3, 2, 1, 0}));
}

TEST(DistanceTransform, RejectsBadInput) {
  const std::vector<std::uint8_t> features(4, 0);
  EXPECT_THROW(mm::distance_to_nearest_feature(features, std::vector<std::int64_t>{3}, {}), medport::InputError);
  EXPECT_THROW(mm::distance_to_nearest_feature(features, std::vector<std::int64_t>{2, 2}, std::vector<double>{1.0}),
               medport::InputError);
  EXPECT_THROW(mm::distance_to_nearest_feature(features, std::vector<std::int64_t>{2, 2}, std::vector<double>{1.0, 0.0}),
               medport::InputError);
}

TEST(DistanceTransformCrossCheck, RandomMasksMatchScipy) {
  medport::testing::TempDir tmp;
  std::mt19937 rng(7);
  struct Case {
    mi::LabelImage image;
    std::filesystem::path file;
  };
  std::vector<Case> cases;
  for (int t = 0; t < 8; ++t) {
    const bool volume = t % 2 == 1;
    std::vector<std::int64_t> shape;
    std::vector<double> spacing;
    const int ndim = volume ? 3 : 2;
    for (int a = 0; a < ndim; ++a) {
      shape.push_back(4 + static_cast<std::int64_t>(rng() % (volume ? 14 : 60)));
      spacing.push_back(0.3 + static_cast<double>(rng() % 1000) / 400.0);
    }
    mi::LabelImage image(shape, spacing);
    const unsigned density = 50 + rng() % 48;  // percent foreground: sparse zeros make long distances
    for (auto& v : image.labels) v = (rng() % 100) < density ? 1 : 0;
    image.labels[0] = 0;  // at least one zero
    const auto file = tmp / ("m" + std::to_string(t) + ".bin");
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(image.labels.data()), static_cast<std::streamsize>(image.labels.size()));
    cases.push_back({std::move(image), file});
  }
  std::ostringstream code;
  code << "import numpy as np\nfrom scipy.ndimage import distance_transform_edt\n";
  for (const auto& c : cases) {
    code << "m=np.fromfile(r'" << c.file.string() << "',dtype=np.uint8).reshape(";
    for (auto e : c.image.shape) code << e << ",";
    code << ")\nd=distance_transform_edt(m,sampling=[";
    for (double s : c.image.spacing) code << fmt_double(s) << ",";
    code << "])\nd.astype('<f8').tofile(r'" << c.file.string() << ".out')\n";
  }
  const auto result = medport::testing::run_program({MEDPORT_PYTHON, "-c", code.str()});
  if (result.exit_code != 0) {
    if (result.err.find("ModuleNotFoundError") != std::string::npos || result.err.find("cannot start") != std::string::npos) {
      GTEST_SKIP() << "python3 with scipy not available";
    }
    FAIL() << result.err;
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file.string());
    const auto ours = mm::euclidean_distance_transform(c.image);
    std::vector<double> expected(ours.size());
    std::ifstream in(c.file.string() + ".out", std::ios::binary);
    in.read(reinterpret_cast<char*>(expected.data()), static_cast<std::streamsize>(expected.size() * sizeof(double)));
    ASSERT_TRUE(in.good());
    std::size_t mismatches = 0;
    double worst = 0.0;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      const double diff = std::fabs(ours[i] - expected[i]);
      worst = std::max(worst, diff);
      if (diff > 1e-12 * std::max(1.0, expected[i])) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0U) << "worst " << worst;
  }
}
