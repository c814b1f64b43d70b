// Resampling against scipy/skimage at test time: skimage resize (orders 0, 1, 3, mode 'edge')
// and nnU-Net's resample_data_or_seg_to_shape rules, re-stated in Python below from upstream.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/resample.hpp"
#include "test_support.hpp"

namespace {

using medport::Shape;
using medport::Tensor;
using namespace medport::imaging;
namespace fs = std::filesystem;

// Reads every case_<i>.json + in_<i>.npy in argv[1], writes out_<i>.npy.
constexpr const char* kReference = R"PY(
import sys, json, glob, os
import numpy as np
from skimage.transform import resize

sys.path.insert(0, sys.argv[2])
from nnunet_resampling_reference import nnunet_resample

folder = sys.argv[1]
for case in sorted(glob.glob(os.path.join(folder, 'case_*.json'))):
    i = case[:-5].split('_')[-1]
    p = json.load(open(case))
    x = np.load(os.path.join(folder, 'in_%s.npy' % i))
    if p['kind'] == 'resize':
        y = resize(x.astype(np.float64), p['new_shape'], p['order'], mode='edge', anti_aliasing=False)
    else:
        new_shape = [int(round(a / b * n)) for a, b, n in zip(p['cur'], p['new'], x.shape[1:])]
        y = nnunet_resample(x, new_shape, p['cur'], p['new'], p['is_seg'], p['order'], p['order_z'], p['force'])
    np.save(os.path.join(folder, 'out_%s.npy' % i), np.asarray(y))
)PY";

std::string json_list(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
std::string json_list(const Shape& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

std::vector<float> random_values(const Shape& shape, unsigned seed, float lo = -3.0F, float hi = 5.0F) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(medport::shape_numel(shape)));
  for (auto& x : v) x = dist(rng);
  return v;
}

std::vector<float> random_labels(const Shape& shape, unsigned seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(medport::shape_numel(shape)));
  // Blocky labels, so label regions survive resampling as they would in a real segmentation.
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 7 < 3 ? dist(rng) : lo);
  return v;
}

struct ResizeCase {
  Shape shape, new_shape;
  int order;
};
struct ResampleCase {
  Shape shape;  // (C, Z, Y, X)
  std::vector<double> cur, next;
  ResamplingOptions options;
  bool labels = false;
  int label_lo = 0, label_hi = 2;
};

std::string force_json(const std::optional<bool>& f) { return !f ? "null" : (*f ? "true" : "false"); }

class ResampleVsPython : public ::testing::Test {
 protected:
  medport::testing::TempDir dir;
  int next_id = 0;

  int add_resize(const ResizeCase& c, const std::vector<float>& values) {
    const int id = next_id++;
    medport::ckpt::write_npy_file(dir / ("in_" + std::to_string(id) + ".npy"), Tensor::from_f32(c.shape, values));
    std::ofstream(dir / ("case_" + std::to_string(id) + ".json"))
        << R"({"kind": "resize", "order": )" << c.order << R"(, "new_shape": )" << json_list(c.new_shape) << "}";
    return id;
  }
  int add_resample(const ResampleCase& c, const std::vector<float>& values) {
    const int id = next_id++;
    medport::ckpt::write_npy_file(dir / ("in_" + std::to_string(id) + ".npy"), Tensor::from_f32(c.shape, values));
    std::ofstream(dir / ("case_" + std::to_string(id) + ".json"))
        << R"({"kind": "nnunet", "cur": )" << json_list(c.cur) << R"(, "new": )" << json_list(c.next)
        << R"(, "is_seg": )" << (c.options.is_seg ? "true" : "false") << R"(, "order": )" << c.options.order
        << R"(, "order_z": )" << c.options.order_z << R"(, "force": )" << force_json(c.options.force_separate_z) << "}";
    return id;
  }
  void run_python() {
    const auto r = medport::testing::run_program({MEDPORT_PYTHON, "-c", kReference, dir.path().string(),
                                                   (medport::testing::source_dir() / "tests" / "python").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  Tensor output(int id) { return medport::ckpt::read_npy_file(dir / ("out_" + std::to_string(id) + ".npy")); }
};

void expect_close(const std::vector<double>& got, const std::vector<float>& want, double rel, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (float w : want) scale = std::max(scale, std::fabs(static_cast<double>(w)));
  std::size_t bad = 0;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(got[i] - want[i]);
    worst = std::max(worst, d);
    if (d > rel * scale) ++bad;
  }
  EXPECT_EQ(bad, 0U) << what << ": worst abs difference " << worst << " (scale " << scale << ")";
}

TEST_F(ResampleVsPython, SkimageResizeOrders013) {
  const std::vector<ResizeCase> cases = {
      {{7, 9}, {13, 5}, 3},    {{16, 16}, {37, 23}, 3}, {{5, 6, 7}, {9, 4, 11}, 3}, {{1, 8, 9}, {1, 12, 5}, 3},
      {{12, 10}, {5, 21}, 1},  {{4, 5, 6}, {7, 3, 9}, 1}, {{9, 11}, {4, 17}, 0},   {{3, 7, 5}, {8, 2, 12}, 0},
      {{20}, {47}, 3},         {{2, 2}, {9, 7}, 3},
  };
  std::vector<std::pair<int, std::vector<double>>> ours;
  unsigned seed = 1;
  for (const auto& c : cases) {
    const auto values = random_values(c.shape, seed++);
    const std::vector<double> as_double(values.begin(), values.end());
    ours.emplace_back(add_resize(c, values), resize_edge(as_double, c.shape, c.new_shape, c.order));
  }
  run_python();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto ref = output(ours[i].first);
    EXPECT_EQ(ref.shape(), cases[i].new_shape);
    expect_close(ours[i].second, ref.to_f32(), 1e-5,
                 "resize " + medport::shape_string(cases[i].shape) + " -> " + medport::shape_string(cases[i].new_shape) +
                     " order " + std::to_string(cases[i].order));
  }
}

TEST_F(ResampleVsPython, NnunetResampleDataSegAndAnisotropy) {
  const auto data = data_resampling_defaults();
  const auto seg = seg_resampling_defaults();
  const auto probs = probabilities_resampling_defaults();
  ResamplingOptions seg_z1 = seg;
  seg_z1.order_z = 1;
  ResamplingOptions no_sep = data;
  no_sep.force_separate_z = false;
  ResamplingOptions force_sep = data;
  force_sep.force_separate_z = true;
  const std::vector<ResampleCase> cases = {
      {{2, 6, 7, 8}, {1, 1, 1}, {1.3, 0.7, 0.9}, data},                // isotropic: one 3D cubic resize
      {{1, 5, 12, 10}, {5, 1, 1}, {5, 0.8, 0.8}, data},                // anisotropic, z kept
      {{1, 6, 11, 9}, {4, 1, 1}, {2.5, 0.9, 1.1}, data},              // anisotropic, z order 0
      {{1, 1, 20, 24}, {999, 1, 1}, {999, 0.7, 1.3}, data},           // nnU-Net's 2D layout
      {{1, 9, 8, 7}, {1, 1, 1}, {3.5, 1, 1}, data},                   // target spacing anisotropic
      {{2, 8, 9, 5}, {1, 1, 4}, {1.2, 0.8, 2}, data},                 // low-res last axis
      {{1, 6, 7, 8}, {1, 1, 5}, {1, 0.9, 0.9}, no_sep},               // forced no separate z
      {{1, 6, 7, 8}, {2, 1, 1}, {1, 0.9, 0.9}, force_sep},            // forced separate z
      {{1, 5, 6, 7}, {1, 1, 1}, {0.6, 1.4, 0.8}, seg, true, -1, 0},   // nonzero-mask seg, order 1
      {{1, 7, 9, 8}, {4, 1, 1}, {2, 0.7, 0.7}, seg, true, 0, 3},      // seg, separate z order 0
      {{1, 7, 9, 8}, {4, 1, 1}, {2, 0.7, 0.7}, seg_z1, true, 0, 3},   // seg, separate z order 1
      {{3, 4, 10, 12}, {1, 1, 1}, {0.5, 1.25, 0.75}, probs},          // logits back, order 1
      {{3, 6, 10, 12}, {3.3, 1, 1}, {5, 0.6, 0.6}, probs},            // logits back, anisotropic
  };
  std::vector<std::pair<int, std::vector<float>>> ours;
  unsigned seed = 100;
  for (const auto& c : cases) {
    const auto values = c.labels ? random_labels(c.shape, seed++, c.label_lo, c.label_hi) : random_values(c.shape, seed++);
    const Shape spatial(c.shape.begin() + 1, c.shape.end());
    const Shape new_shape = compute_new_shape(spatial, c.cur, c.next);
    ours.emplace_back(add_resample(c, values), resample_to_shape(values, c.shape, new_shape, c.cur, c.next, c.options));
  }
  run_python();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto ref = output(ours[i].first);
    const auto& got = ours[i].second;
    const std::vector<double> as_double(got.begin(), got.end());
    ASSERT_EQ(static_cast<std::int64_t>(got.size()), ref.numel()) << "case " << i;
    expect_close(as_double, ref.to_f32(), 1e-5, "nnU-Net resampling case " + std::to_string(i));
  }
}

TEST(Resample, NewShapeRoundsHalfToEven) {
  // 2.5 -> 2 and 3.5 -> 4 as Python's round().
  EXPECT_EQ(compute_new_shape({5, 7, 10}, std::vector<double>{1, 1, 1}, std::vector<double>{2, 2, 1}), (Shape{2, 4, 10}));
  EXPECT_EQ(compute_new_shape({10, 10}, std::vector<double>{0.5, 3}, std::vector<double>{1, 1}), (Shape{5, 30}));
}

TEST(Resample, SeparateZDecision) {
  const auto opts = data_resampling_defaults();
  auto d = decide_separate_z(std::vector<double>{5, 1, 1}, std::vector<double>{1, 1, 1}, opts);
  EXPECT_TRUE(d.separate);
  EXPECT_EQ(d.axis, 0);
  d = decide_separate_z(std::vector<double>{1, 1, 1}, std::vector<double>{1, 3.1, 1}, opts);
  EXPECT_TRUE(d.separate);
  EXPECT_EQ(d.axis, 1);
  d = decide_separate_z(std::vector<double>{4, 4, 1}, std::vector<double>{1, 1, 1}, opts);  // two low-res axes
  EXPECT_FALSE(d.separate);
  d = decide_separate_z(std::vector<double>{2, 1, 1}, std::vector<double>{1, 1, 1}, opts);
  EXPECT_FALSE(d.separate);
}

TEST(Resample, HandComputedValues) {
  // Linear, 2 -> 4 with grid_mode: coordinates -0.25, 0.25, 0.75, 1.25 (clamped to [0, 1]).
  const std::vector<double> in{0.0, 4.0};
  const auto out = resize_edge(in, {2}, {4}, 1);
  ASSERT_EQ(out.size(), 4U);
  EXPECT_DOUBLE_EQ(out[0], 0.0);
  EXPECT_DOUBLE_EQ(out[1], 1.0);
  EXPECT_DOUBLE_EQ(out[2], 3.0);
  EXPECT_DOUBLE_EQ(out[3], 4.0);
  // A constant stays constant under the cubic spline.
  const std::vector<double> flat(12, 2.5);
  for (double v : resize_edge(flat, {3, 4}, {7, 5}, 3)) EXPECT_NEAR(v, 2.5, 1e-12);
}

TEST(Resample, RejectsBadArguments) {
  const std::vector<double> in(6, 1.0);
  EXPECT_THROW(resize_edge(in, {2, 3}, {4, 4}, 2), medport::UsageError);
  EXPECT_THROW(resize_edge(in, {2, 3}, {0, 4}, 1), medport::UsageError);
  EXPECT_THROW(resize_edge(in, {2, 3}, {4}, 1), medport::UsageError);
  EXPECT_THROW(resize_edge(in, {2, 4}, {4, 4}, 1), medport::UsageError);
  const std::vector<float> data(6, 1.0F);
  EXPECT_THROW(resample_to_shape(data, {1, 1, 2, 3}, {1, 2, 3}, std::vector<double>{1, 1, 1},
                                 std::vector<double>{0, 1, 1}, data_resampling_defaults()),
               medport::UsageError);
}

}  // namespace
