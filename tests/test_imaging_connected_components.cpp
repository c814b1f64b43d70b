// imaging::label_components on hand-computed masks (2D 4/8, 3D 6/18/26 connectivity, ties,
// empty masks, refusals) and against scipy.ndimage.label on random masks.
#include <gtest/gtest.h>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/connected_components.hpp"
#include "test_support.hpp"

namespace {

using medport::imaging::label_components;
using Shape = std::vector<std::int64_t>;

TEST(ImagingConnectedComponents, TwoDimensionsEdgesOrCorners) {
  const std::vector<std::uint8_t> mask{1, 1, 0, 0,  //
                                       0, 0, 1, 0,  //
                                       0, 0, 0, 0,  //
                                       1, 0, 0, 1};
  const Shape shape{4, 4};
  const auto four = label_components(mask, shape, 4);
  EXPECT_EQ(four.sizes, (std::vector<std::int64_t>{2, 1, 1, 1}));
  EXPECT_EQ(four.label, (std::vector<std::int32_t>{0, 0, -1, -1, -1, -1, 1, -1, -1, -1, -1, -1, 2, -1, -1, 3}));
  const auto eight = label_components(mask, shape, 8);  // (0,1) and (1,2) touch at a corner
  EXPECT_EQ(eight.sizes, (std::vector<std::int64_t>{3, 1, 1}));
  EXPECT_EQ(eight.label, (std::vector<std::int32_t>{0, 0, -1, -1, -1, -1, 0, -1, -1, -1, -1, -1, 1, -1, -1, 2}));
  EXPECT_EQ(eight.largest(), 0);
}

TEST(ImagingConnectedComponents, ThreeDimensionsFacesEdgesCorners) {
  const Shape shape{2, 2, 2};
  // (0,0,0) with (1,1,1) share a corner, (0,0,0) with (0,1,1) an edge.
  std::vector<std::uint8_t> corner(8, 0), edge(8, 0);
  corner[0] = corner[7] = 1;
  edge[0] = edge[3] = 1;
  EXPECT_EQ(label_components(corner, shape, 26).sizes, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(label_components(corner, shape, 18).sizes, (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(label_components(edge, shape, 18).sizes, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(label_components(edge, shape, 6).sizes, (std::vector<std::int64_t>{1, 1}));
  // Through the depth axis: (0,0,1) over (1,0,1) are face neighbours.
  std::vector<std::uint8_t> column(8, 0);
  column[1] = column[5] = 1;
  const auto faces = label_components(column, shape, 6);
  EXPECT_EQ(faces.sizes, (std::vector<std::int64_t>{2}));
  EXPECT_EQ(faces.label[5], 0);
}

TEST(ImagingConnectedComponents, TiesGoToTheFirstInRasterOrder) {
  const std::vector<std::uint8_t> mask{0, 0, 1, 1,  //
                                       0, 0, 0, 0,  //
                                       1, 1, 0, 0};
  const auto c = label_components(mask, Shape{3, 4}, 8);
  EXPECT_EQ(c.sizes, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(c.largest(), 0);
  EXPECT_EQ(c.label[2], 0);
  EXPECT_EQ(c.label[8], 1);
}

TEST(ImagingConnectedComponents, EmptyMaskHasNoComponents) {
  const std::vector<std::uint8_t> mask(12, 0);
  const auto c = label_components(mask, Shape{3, 4}, 4);
  EXPECT_TRUE(c.sizes.empty());
  EXPECT_EQ(c.largest(), -1);
  EXPECT_EQ(c.label, std::vector<std::int32_t>(12, -1));
  EXPECT_TRUE(label_components(mask, Shape{1, 3, 4}, 26).sizes.empty());
}

TEST(ImagingConnectedComponents, RefusesWhatDoesNotFit) {
  const std::vector<std::uint8_t> mask(8, 1);
  EXPECT_THROW(label_components(mask, Shape{2, 4}, 6), medport::UsageError);      // a 3D connectivity in 2D
  EXPECT_THROW(label_components(mask, Shape{2, 2, 2}, 8), medport::UsageError);   // a 2D one in 3D
  EXPECT_THROW(label_components(mask, Shape{3, 3}, 4), medport::UsageError);      // 9 voxels wanted
  EXPECT_THROW(label_components(mask, Shape{8}, 2), medport::UsageError);         // one axis
  EXPECT_THROW(label_components(mask, Shape{2, 2, 2, 1}, 26), medport::UsageError);
}

// Random masks labelled by scipy with generate_binary_structure(rank, reach); scipy numbers
// components 1.. in raster order of their first voxel, as label_components does from 0.
constexpr const char* kScipyLabel = R"(
import sys, numpy as np
from scipy import ndimage
rng = np.random.default_rng(3)
out = {}
# densities below percolation, so that each case has many components
cases = [((17, 23), 1, 0.45), ((17, 23), 2, 0.3), ((6, 9, 11), 1, 0.25), ((6, 9, 11), 2, 0.12), ((6, 9, 11), 3, 0.08),
         ((1, 12, 12), 3, 0.3)]
for i, (shape, reach, density) in enumerate(cases):
    mask = (rng.random(shape) < density).astype(np.uint8)
    labels, _ = ndimage.label(mask, structure=ndimage.generate_binary_structure(len(shape), reach))
    out[f"mask_{i}"] = mask
    out[f"labels_{i}"] = labels.astype(np.int32) - 1
    out[f"conn_{i}"] = np.array([{(2, 1): 4, (2, 2): 8, (3, 1): 6, (3, 2): 18, (3, 3): 26}[(len(shape), reach)]], dtype=np.int32)
np.savez(sys.argv[1], **out)
)";

TEST(ImagingConnectedComponents, MatchesScipyNdimageLabel) {
  medport::testing::TempDir dir;
  const auto npz_path = dir / "label.npz";
  MEDPORT_RUN_PYTHON_OR_SKIP(r, kScipyLabel, npz_path.string());
  const auto npz = medport::ckpt::NpzFile::open(npz_path);
  int cases = 0;
  for (int i = 0; npz.contains("mask_" + std::to_string(i)); ++i, ++cases) {
    const std::string n = std::to_string(i);
    const auto mask_t = npz.read("mask_" + n);
    const std::vector<std::uint8_t> mask(mask_t.data<std::uint8_t>(), mask_t.data<std::uint8_t>() + mask_t.numel());
    const auto want_t = npz.read("labels_" + n);
    const std::vector<std::int32_t> want(want_t.data<std::int32_t>(), want_t.data<std::int32_t>() + want_t.numel());
    const int connectivity = npz.read("conn_" + n).data<std::int32_t>()[0];
    const auto got = label_components(mask, mask_t.shape(), connectivity);
    EXPECT_EQ(got.label, want) << "case " << i << " connectivity " << connectivity;
    std::vector<std::int64_t> sizes(got.sizes.size(), 0);
    for (auto l : want)
      if (l >= 0 && static_cast<std::size_t>(l) < sizes.size()) ++sizes[static_cast<std::size_t>(l)];
    EXPECT_EQ(got.sizes, sizes) << "case " << i;
    EXPECT_GT(got.sizes.size(), 3u) << "case " << i << ": too few components to test anything";
  }
  EXPECT_EQ(cases, 6);
}

}  // namespace
