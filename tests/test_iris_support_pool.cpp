// Support pools (pipelines/fewshot/support_pool.hpp): pairing by name, seeded random choice, the
// guide's quality score and farthest-point diversity on hand-made data.
#include <gtest/gtest.h>

#include <cmath>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/support_pool.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
namespace fsl = medport::pipelines::fewshot;
using medport::testing::TempDir;

TEST(IrisSupportPool, PairsImagesAndMasksByName) {
  TempDir dir;
  for (const char* f : {"a_image.npy", "a_mask.npy", "b.png", "b_mask.png", "c_image.nii.gz", "notes.txt"})
    write_file_atomic(dir / f, std::string_view("x"));
  const auto pairs = fsl::find_support_pairs(dir.path());
  ASSERT_EQ(pairs.size(), 2u);  // c has no mask: left out
  EXPECT_EQ(pairs[0].name, "a");
  EXPECT_EQ(pairs[0].files.image.filename(), "a_image.npy");
  EXPECT_EQ(pairs[1].files.mask.filename(), "b_mask.png");
  write_file_atomic(dir / "d_mask.npy", std::string_view("x"));
  EXPECT_THROW(fsl::find_support_pairs(dir.path()), InputError);  // a mask without its image
  TempDir twice;
  for (const char* f : {"a.npy", "a_image.png", "a_mask.npy"}) write_file_atomic(twice / f, std::string_view("x"));
  EXPECT_THROW(fsl::find_support_pairs(twice.path()), InputError);
  TempDir empty;
  EXPECT_THROW(fsl::find_support_pairs(empty.path()), InputError);
}

TEST(IrisSupportPool, RandomChoiceIsSeeded) {
  const auto a = fsl::select_random(10, 3, 42), b = fsl::select_random(10, 3, 42);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  bool differs = false;
  for (std::uint64_t seed = 0; seed < 8; ++seed) differs |= fsl::select_random(10, 3, seed) != a;
  EXPECT_TRUE(differs);
  EXPECT_EQ(fsl::select_random(2, 5, 1).size(), 2u);
}

TEST(IrisSupportPool, QualityScoreIsTheGuidesFormula) {
  // (1,2,2) volume, half foreground in one row: f = 0.5 -> coverage 1; the 0/1 mask's gradient
  // along y is 1 at every voxel (one-sided differences over 2 rows) -> mean |grad| = 1; image
  // values 0, 2, 0, 2 -> std 1. q = 0.5 + 0.3 + 0.2 = 1.0.
  const std::vector<float> image{0, 2, 0, 2}, mask{1, 1, 0, 0};
  EXPECT_NEAR(fsl::support_quality(image, mask, {1, 2, 2}), 1.0, 1e-12);
  // Empty mask, flat image: coverage 1 - 2 * 0.5 = 0, no edge, no contrast.
  const std::vector<float> flat{3, 3, 3, 3}, none{0, 0, 0, 0};
  EXPECT_NEAR(fsl::support_quality(flat, none, {1, 2, 2}), 0.0, 1e-12);
}

TEST(IrisSupportPool, DiversityTakesTheTypicalThenTheFarthest) {
  // Directions: three near (1,0), one opposite.
  auto v = [](float x, float y) { return Tensor::from_f32({2}, std::vector<float>{x, y}); };
  const std::vector<Tensor> e{v(1, 0.1F), v(1, 0), v(1, -0.1F), v(-1, 0)};
  // Most typical: index 1 (mean cosine 0.33 against 0.327 for 0 and 2); farthest from it: 3.
  EXPECT_EQ(fsl::select_diverse(e, 2), (std::vector<std::size_t>{1, 3}));
  // Third: 0 and 2 are equally far from {1, 3} (0.995): the lower index.
  EXPECT_EQ(fsl::select_diverse(e, 3), (std::vector<std::size_t>{0, 1, 3}));
}

}  // namespace
