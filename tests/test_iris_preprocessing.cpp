// The few-shot pipeline's default preprocessing against IRIS's upstream
// (src/iris/data/preprocessing.py): the shared fixtures iris/preprocessing/*.npz made by the
// upstream code (images within 1e-5, masks exactly), and volumes not among them generated here
// by a restatement of the upstream steps with scipy.ndimage.zoom and numpy.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/preprocessing.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
namespace fsl = medport::pipelines::fewshot;
using medport::testing::TempDir;

Shape spatial_of(const Tensor& t) { return t.shape(); }

void expect_close(const std::vector<float>& got, const Tensor& want, double tolerance, const std::string& what) {
  const auto w = want.to_f32();
  ASSERT_EQ(got.size(), w.size()) << what;
  double worst = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(got[i]) - w[i]));
  EXPECT_LE(worst, tolerance) << what;
}

void expect_equal(const std::vector<double>& got, const Tensor& want, const std::string& what) {
  const auto w = want.to_f32();
  ASSERT_EQ(got.size(), w.size()) << what;
  std::size_t differ = 0;
  for (std::size_t i = 0; i < w.size(); ++i) differ += got[i] != w[i] ? 1 : 0;
  EXPECT_EQ(differ, 0u) << what;
}

fsl::PreprocessingSettings settings_from(const nlohmann::json& j) {
  fsl::PreprocessingSettings s;  // spline resize, modality normalization: the defaults
  const std::string modality = j["modality"];
  s.modality = modality == "CT" || modality == "MRI" || modality == "PET" ? modality : "other";
  if (!j["clip_values"].is_null()) s.clip = std::array<double, 2>{j["clip_values"][0], j["clip_values"][1]};
  if (j.contains("percentiles")) s.percentiles = {j["percentiles"][0], j["percentiles"][1]};
  if (!j["target_spacing"].is_null()) s.target_spacing = j["target_spacing"].get<std::vector<double>>();
  return s;
}

void check_case(const ckpt::NpzFile& npz, const nlohmann::json& meta, const std::string& name) {
  const auto s = settings_from(meta);
  fsl::validate(s);
  const Tensor image = npz.read("image"), mask = npz.read("mask");
  const Tensor want_image = npz.read("expected_image"), want_mask = npz.read("expected_mask");
  const Shape volume(want_mask.shape());
  const auto spacing = meta["spacing"].get<std::vector<double>>();
  const auto got = fsl::image_to_volume(image.to_f32(), spatial_of(image), spacing, volume, s);
  expect_close(got, want_image, 1e-5, name + " image");
  const auto m = mask.to_f32();
  const auto got_mask = fsl::mask_to_volume(std::vector<double>(m.begin(), m.end()), spatial_of(mask), spacing, volume, s);
  expect_equal(got_mask, want_mask, name + " mask");
}

TEST(IrisPreprocessing, MatchesTheUpstreamFixtures) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "iris/preprocessing");
  int cases = 0;
  for (const char* name : {"ct_custom_clip", "ct_resample_resize", "mri_percentile", "other_minmax_ct_clip", "pet_zscore"}) {
    std::ifstream in(dir / (std::string(name) + ".json"));
    const auto meta = nlohmann::json::parse(in);
    check_case(ckpt::NpzFile::open(dir / (std::string(name) + ".npz")), meta, name);
    ++cases;
  }
  EXPECT_EQ(cases, 5);
}

// Upstream's steps restated (scipy.ndimage.zoom order 3 / 0, then the modality's normalization)
// on volumes, spacings and windows the fixtures do not have; plus a 2D image, which the pipeline
// treats as a one-slice volume zoomed to D slices.
constexpr const char* kRestatement = R"(
import json, sys, numpy as np
from scipy.ndimage import zoom
out_dir = sys.argv[1]
rng = np.random.default_rng(2026)
def preprocess(image, mask, spacing, target_spacing, size, modality, clip, percentiles):
    if target_spacing is not None:
        f = [spacing[i] / target_spacing[i] for i in range(3)]
        image, mask = zoom(image, f, order=3), zoom(mask, f, order=0)
    f = [size[i] / image.shape[i] for i in range(3)]
    image, mask = zoom(image, f, order=3), zoom(mask, f, order=0)
    if modality == "CT":
        lo, hi = clip or (-1024.0, 1024.0)
        image = ((np.clip(image, lo, hi) - lo) / (hi - lo)).astype(np.float32)
    elif modality == "MRI":
        lo, hi = np.percentile(image, percentiles)
        image = ((np.clip(image, lo, hi) - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)
    elif modality == "PET":
        image = image.astype(np.float32)
        image = (image - float(image.mean())) / (float(image.std()) or 1.0)
    else:
        image = image.astype(np.float32)
        lo, hi = float(image.min()), float(image.max())
        image = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    return image[None].astype(np.float32), mask.astype(np.int16)
cases = [
    ("ct_window", (18, 33, 27), [1.25, 0.7, 0.9], [2.0, 1.1, 1.1], (16, 32, 32), "CT", [-500.0, 800.0], (1.0, 99.0)),
    ("ct_default_upsample", (7, 20, 17), [3.0, 1.0, 1.0], None, (16, 48, 40), "CT", None, (1.0, 99.0)),
    ("mri_5_95", (13, 41, 29), [1.0, 1.0, 1.0], [1.5, 1.5, 1.5], (8, 24, 24), "MRI", None, (5.0, 95.0)),
    ("pet_anisotropic", (9, 31, 35), [4.0, 2.0, 2.0], [2.0, 2.0, 2.0], (16, 32, 32), "PET", None, (1.0, 99.0)),
    ("other_tiny", (3, 5, 4), [1.0, 1.0, 1.0], None, (16, 16, 16), "other", None, (1.0, 99.0)),
]
for name, shape, spacing, target, size, modality, clip, pct in cases:
    image = (rng.standard_normal(shape) * 400 + 50).astype(np.float32)
    mask = rng.integers(0, 4, size=shape).astype(np.int16)
    ei, em = preprocess(image, mask, spacing, target, size, modality, clip, pct)
    np.savez(f"{out_dir}/{name}.npz", image=image, mask=mask, expected_image=ei, expected_mask=em)
    json.dump({"spacing": spacing, "target_spacing": target, "target_size": size, "modality": modality,
               "clip_values": clip, "percentiles": pct}, open(f"{out_dir}/{name}.json", "w"))
# 2D: (h, w) -> (D, H, W) as the (1, h, w) volume zoomed by (D, H/h, W/w)
image = (rng.standard_normal((37, 29)) * 60 + 120).astype(np.float32)
mask = rng.integers(0, 3, size=(37, 29)).astype(np.int16)
ei, em = preprocess(image[None], mask[None], [1.0, 1.0, 1.0], None, (8, 32, 32), "other", None, (1.0, 99.0))
np.savez(f"{out_dir}/plane.npz", image=image, mask=mask, expected_image=ei, expected_mask=em)
json.dump({"spacing": [1.0, 1.0], "target_spacing": None, "target_size": [8, 32, 32], "modality": "US",
           "clip_values": None}, open(f"{out_dir}/plane.json", "w"))
)";

TEST(IrisPreprocessing, MatchesUpstreamOnUnseenVolumesAndA2dImage) {
  TempDir dir;
  MEDPORT_RUN_PYTHON_OR_SKIP(r, kRestatement, dir.path().string());
  for (const char* name : {"ct_window", "ct_default_upsample", "mri_5_95", "pet_anisotropic", "other_tiny", "plane"}) {
    std::ifstream in(dir / (std::string(name) + ".json"));
    check_case(ckpt::NpzFile::open(dir / (std::string(name) + ".npz")), nlohmann::json::parse(in), name);
  }
}

TEST(IrisPreprocessing, SettingsAreChecked) {
  fsl::PreprocessingSettings s;
  EXPECT_NO_THROW(fsl::validate(s));
  s.modality = "mri";
  EXPECT_NO_THROW(fsl::validate(s));
  EXPECT_EQ(fsl::canonical_modality("Other"), "other");
  s.modality = "ultrasound";
  EXPECT_THROW(fsl::validate(s), UsageError);
  s = {};
  s.clip = std::array<double, 2>{10.0, -10.0};
  EXPECT_THROW(fsl::validate(s), UsageError);
  s = {};
  s.percentiles = {99.0, 1.0};
  EXPECT_THROW(fsl::validate(s), UsageError);
  s = {};
  s.resize = "cubic";
  EXPECT_THROW(fsl::validate(s), UsageError);
  s = {};
  s.target_spacing = {1.0, 0.0, 1.0};
  EXPECT_THROW(fsl::validate(s), UsageError);
  // A 3-value target spacing for a 2D image is the input's fault.
  s = {};
  s.target_spacing = {1.0, 1.0, 1.0};
  const std::vector<float> plane(12, 1.0F);
  EXPECT_THROW(fsl::image_to_volume(plane, {3, 4}, {}, {2, 4, 4}, s), InputError);
}

TEST(IrisPreprocessing, ProbabilitiesGoBackToTheQueryGrid) {
  // A 2D query of 5x7: the (D,H,W) = (3,4,4) map is averaged over D, then zoomed back.
  fsl::PreprocessingSettings s;
  std::vector<float> probs(3 * 4 * 4);
  for (std::size_t i = 0; i < probs.size(); ++i) probs[i] = static_cast<float>(i % 16) / 16.0F + (i < 16 ? 0.03F : 0.0F);
  const auto back = fsl::probabilities_to_grid(probs, 1, {3, 4, 4}, {5, 7}, s);
  ASSERT_EQ(back.size(), 35u);
  // Corners map onto corners (the zoom's corners are aligned): mean over D of the corner values.
  EXPECT_NEAR(back[0], 0.01, 1e-6);
  EXPECT_NEAR(back[34], 15.0 / 16.0 + 0.01, 1e-6);
  for (float p : back) EXPECT_TRUE(p >= 0.0F && p <= 1.0F);
}

}  // namespace
