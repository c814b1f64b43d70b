// `medport segment` on raw images against nnU-Net's OWN predictor (nnUNetPredictor, run by
// tools/nnunet_predictor_fixture.py; data in tests/fixtures/nnunet_predictor): preprocessing with
// resampling to the target spacing, sliding window with mirroring, export back to the input
// geometry, for a 2D and a 3D softmax model and a region-based (sigmoid) model.
#include <gtest/gtest.h>

#include <cmath>

#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

// nnUNetPredictor accumulates logits * gaussian and the gaussian in float16 buffers, divides in
// float16 and resamples the float16 logits back (the result is cast to float16 again); medport
// does all of it in float32. float16 keeps 11 significant bits: a logit of magnitude up to 8
// (these models' range) is off by at most 2^-9 ~ 2e-3 after one rounding, and softmax/sigmoid move
// by at most 1/4 of a logit difference, so each rounding costs <= 5e-4 in probability; the chain
// rounds about three times in a row (accumulate, divide, resample), <= 1.5e-3. 3e-3 is twice
// that and 3.6x the worst difference measured (camus2d 4.0e-4, resenc3d 8.2e-4, regions2d
// 3.4e-4), while a wrong step (spacing, crop, normalization, resampling order) moves
// probabilities by 0.1 to 0.9.
constexpr double kProbabilityTolerance = 3e-3;

fs::path case_dir(const std::string& name) {
  return medport::testing::source_dir() / "tests" / "fixtures" / "nnunet_predictor" / name;
}

// The model folder a case names: "fixtures:<relative>" (shared fixtures) or "local:<relative>".
fs::path model_folder(const std::string& model) {
  if (model.rfind("fixtures:", 0) == 0) return medport::testing::fixture(model.substr(9));
  if (model.rfind("local:", 0) == 0) return case_dir("") / model.substr(6);
  return {};
}

std::string spacing_arg(const nlohmann::json& spacing) {
  std::string out;
  for (const auto& s : spacing) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", s.get<double>());
    out += (out.empty() ? "" : ",") + std::string(buf);
  }
  return out;
}

void check_case(const std::string& name) {
  const fs::path dir = case_dir(name);
  ASSERT_TRUE(fs::exists(dir / "case.json")) << dir;
  const auto meta = medport::testing::read_json(dir / "case.json");
  const fs::path folder = model_folder(meta["model"].get<std::string>());
  if (folder.empty() || !fs::exists(folder)) GTEST_SKIP() << "model " << meta["model"] << " not found";

  TempDir tmp;
  const auto onnx = tmp / "model.onnx";
  auto r = medport::testing::run_medport({"convert", folder.string(), "-o", onnx.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Same input file name as the case, outputs under out/.
  const auto out = tmp / "out";
  r = medport::testing::run_medport({"segment", onnx.string(), (dir / "image.npy").string(), "-o", out.string(),
                                     "--spacing", spacing_arg(meta["spacing"]), "--save-probabilities",
                                     "--fp16-gaussian", "--no-overlay"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const auto expected_seg = ckpt::read_npz_member(dir / "expected.npz", "segmentation").to_f32();
  const Tensor expected_probs = ckpt::read_npz_member(dir / "expected.npz", "probabilities");
  const Tensor seg = ckpt::read_npy_file(out / "image_seg.npy");
  const Tensor probs = ckpt::read_npz_member(out / "image_probabilities.npz", "probabilities");

  // The label map has the image's spatial shape (a multi-channel image loses its channel axis).
  const Shape spatial(expected_probs.shape().begin() + 1, expected_probs.shape().end());
  ASSERT_EQ(seg.shape(), spatial);
  ASSERT_EQ(probs.shape(), expected_probs.shape());
  EXPECT_EQ(seg.dtype(), DType::U8);

  const auto p = probs.to_f32(), q = expected_probs.to_f32();
  const auto got_seg = seg.to_f32();
  const std::size_t voxels = got_seg.size();
  const auto channels = static_cast<std::size_t>(expected_probs.shape()[0]);
  std::size_t same = 0;
  for (std::size_t i = 0; i < voxels; ++i) {
    if (got_seg[i] == expected_seg[i]) {
      ++same;
      continue;
    }
    // A voxel may only differ where nnU-Net's own decision is a near tie (within the tolerance):
    // a region probability next to 0.5, or the two best classes next to each other.
    double margin = 1.0;
    if (meta["has_regions"] == true) {
      for (std::size_t k = 0; k < channels; ++k) margin = std::min(margin, std::abs(q[k * voxels + i] - 0.5));
    } else {
      double best = -1, second = -1;
      for (std::size_t k = 0; k < channels; ++k) {
        const double v = q[k * voxels + i];
        if (v > best) {
          second = best;
          best = v;
        } else if (v > second) {
          second = v;
        }
      }
      margin = best - second;
    }
    EXPECT_LE(margin, 2 * kProbabilityTolerance) << name << ": voxel " << i << " differs without a near tie";
  }
  const double agreement = static_cast<double>(same) / static_cast<double>(voxels);
  EXPECT_GE(agreement, 0.999) << name;

  double worst = 0;
  for (std::size_t i = 0; i < p.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(p[i]) - q[i]));
  EXPECT_LE(worst, kProbabilityTolerance) << name;

  const auto summary = medport::testing::read_json(out / "image.json");
  EXPECT_EQ(summary["settings"]["nonlinearity"], meta["has_regions"] == true ? "sigmoid" : "softmax");
  std::printf("%s: label agreement %.5f, max |p - nnU-Net| = %.3g\n", name.c_str(), agreement, worst);
}

TEST(SegmentRawParity, Camus2DMatchesNnUNetPredictor) { check_case("camus2d"); }
TEST(SegmentRawParity, ResEnc3DMatchesNnUNetPredictor) { check_case("resenc3d"); }
TEST(SegmentRawParity, RegionModelMatchesNnUNetPredictor) { check_case("regions2d"); }

}  // namespace
