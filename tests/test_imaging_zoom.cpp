// imaging::zoom against scipy.ndimage.zoom itself (defaults: mode 'constant', prefilter,
// grid_mode False) on random arrays of many shapes, including sizes where float error puts the
// last coordinate past the input (scipy then gives 0 there).
#include <gtest/gtest.h>

#include <cmath>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/zoom.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using medport::testing::TempDir;

// For each case i: in_i (float32), factors_i (float64), and out{0,1,3}_i = scipy's zoom.
constexpr const char* kScipyZoom = R"(
import sys, numpy as np
from scipy.ndimage import zoom
rng = np.random.default_rng(7)
shapes = [((20,), (0.8,)), ((8,), (26 / 8,)), ((4,), (47.0,)), ((7, 9), (188 / 7, 0.5)), ((5, 6, 7), (1.6, 1.0, 0.75)),
          ((20, 40, 36), (0.8, 0.8, 32 / 36)), ((12, 30, 28), (16 / 12, 32 / 30, 32 / 28)), ((1, 5, 6), (16.0, 2.0, 1.5)),
          ((3, 1, 4), (2.0, 3.0, 1.0)), ((10, 20, 22), (3.0 / 2.0, 1.0, 1.0)), ((2, 3, 2), (1.0, 1.0, 1.0))]
out = {}
for i, (shape, factors) in enumerate(shapes):
    a = (rng.standard_normal(shape) * 100).astype(np.float32)
    out[f"in_{i}"] = a
    out[f"factors_{i}"] = np.array(factors, dtype=np.float64)
    for order in (0, 1, 3):
        out[f"out{order}_{i}"] = zoom(a, factors, order=order)
    labels = rng.integers(0, 4, size=shape).astype(np.int16)
    out[f"labels_{i}"] = labels
    out[f"labels_out_{i}"] = zoom(labels, factors, order=0)
np.savez(sys.argv[1], **out)
)";

TEST(ImagingZoom, MatchesScipyNdimageZoom) {
  TempDir dir;
  const auto npz_path = dir / "zoom.npz";
  MEDPORT_RUN_PYTHON_OR_SKIP(r, kScipyZoom, npz_path.string());
  const auto npz = ckpt::NpzFile::open(npz_path);
  for (int i = 0; npz.contains("in_" + std::to_string(i)); ++i) {
    const std::string n = std::to_string(i);
    const Tensor in = npz.read("in_" + n);
    const auto factors_t = npz.read("factors_" + n).to(DType::F64);
    const std::vector<double> factors(factors_t.data<double>(), factors_t.data<double>() + factors_t.numel());
    const Shape out_shape = imaging::zoom_shape(in.shape(), factors);
    const auto values = in.to_f32();
    const std::vector<double> input(values.begin(), values.end());
    for (int order : {0, 1, 3}) {
      const Tensor want = npz.read("out" + std::to_string(order) + "_" + n);
      ASSERT_EQ(out_shape, want.shape()) << "case " << i;
      const auto got = imaging::zoom(input, in.shape(), out_shape, order);
      const auto expected = want.to_f32();
      double worst = 0.0;
      for (std::size_t k = 0; k < expected.size(); ++k)
        worst = std::max(worst, std::abs(static_cast<double>(static_cast<float>(got[k])) - expected[k]));
      // float32 results of the same double arithmetic, summed in another order (values ~ +-300;
      // today they agree exactly)
      EXPECT_LE(worst, order == 0 ? 0.0 : 1e-4) << "case " << i << " order " << order;
    }
    const Tensor labels = npz.read("labels_" + n);
    const auto lv = labels.to_f32();
    const auto got = imaging::zoom(std::vector<double>(lv.begin(), lv.end()), labels.shape(), out_shape, 0);
    const auto want = npz.read("labels_out_" + n).to_f32();
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t k = 0; k < want.size(); ++k) ASSERT_EQ(got[k], want[k]) << "case " << i << " voxel " << k;
  }
}

TEST(ImagingZoom, ShapesAndErrors) {
  EXPECT_EQ(imaging::zoom_shape({20, 40, 36}, std::vector<double>{0.8, 0.8, 32.0 / 36.0}), (Shape{16, 32, 32}));
  EXPECT_EQ(imaging::zoom_shape({5}, std::vector<double>{0.5}), (Shape{2}));  // 2.5 rounds to even
  EXPECT_EQ(imaging::zoom_shape({7}, std::vector<double>{0.5}), (Shape{4}));  // 3.5 rounds to even
  EXPECT_THROW(imaging::zoom_shape({5}, std::vector<double>{0.01}), UsageError);
  EXPECT_THROW(imaging::zoom(std::vector<double>{1, 2}, {2}, {3}, 2), UsageError);
  // A single output sample reads the first input sample; a single input is repeated.
  EXPECT_EQ(imaging::zoom(std::vector<double>{4, 5, 6}, {3}, {1}, 3), (std::vector<double>{4}));
  EXPECT_EQ(imaging::zoom(std::vector<double>{4}, {1}, {3}, 3), (std::vector<double>{4, 4, 4}));
}

}  // namespace
