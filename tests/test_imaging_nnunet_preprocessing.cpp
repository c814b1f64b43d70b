// nnU-Net v2 preprocessing and export against a Python restatement of upstream's steps
// (DefaultPreprocessor.run_case_npy, crop_to_nonzero, normalization schemes, resampling,
// convert_predicted_logits_to_segmentation_with_correct_shape) run with numpy/scipy/skimage/torch.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"
#include "test_support.hpp"

namespace {

using medport::Shape;
using medport::Tensor;
using namespace medport::imaging;
using namespace medport::imaging::nnunet;
using Json = nlohmann::json;

constexpr const char* kReference = R"PY(
import sys, json, glob, os
import numpy as np
import torch
from scipy.ndimage import binary_fill_holes

sys.path.insert(0, sys.argv[2])
from nnunet_resampling_reference import nnunet_resample

def bbox_of(m):
    box = []
    for a in range(m.ndim):
        idx = np.where(np.any(m, axis=tuple(i for i in range(m.ndim) if i != a)))[0]
        box.append([int(idx[0]), int(idx[-1]) + 1] if len(idx) else [0, m.shape[a]])
    return box

def normalize(img, seg, n):
    img = img.astype(np.float32, copy=False)
    s = n['scheme']
    if s == 'ZScoreNormalization':
        if n['use_mask_for_norm']:
            mask = seg >= 0
            mean, std = img[mask].mean(), img[mask].std()
            img[mask] = (img[mask] - mean) / max(std, 1e-8)
        else:
            mean, std = img.mean(), img.std()
            img -= mean
            img /= max(std, 1e-8)
    elif s == 'CTNormalization':
        p = n['intensity_properties']
        np.clip(img, p['percentile_00_5'], p['percentile_99_5'], out=img)
        img -= p['mean']
        img /= max(p['std'], 1e-8)
    elif s == 'RescaleTo01Normalization':
        img -= img.min()
        img /= np.clip(img.max(), a_min=1e-8, a_max=None)
    elif s == 'RGBTo0_1Normalization':
        img /= 255.
    return img

folder = sys.argv[1]
for case in sorted(glob.glob(os.path.join(folder, 'case_*.json'))):
    i = case[:-5].split('_')[-1]
    p = json.load(open(case))
    out = lambda name: os.path.join(folder, '%s_%s' % (name, i))
    if p['kind'] == 'fill':
        m = np.load(os.path.join(folder, 'mask_%s.npy' % i)) != 0
        f = binary_fill_holes(m)
        np.save(out('filled') + '.npy', f.astype(np.uint8))
        json.dump(bbox_of(f), open(out('bbox') + '.json', 'w'))
        continue
    data = np.load(os.path.join(folder, 'in_%s.npy' % i)).astype(np.float32)
    tf, tb, target = p['transpose_forward'], p['transpose_backward'], list(p['target_spacing'])
    data = data.transpose([0, *[a + 1 for a in tf]])
    sp = [p['spacing'][a] for a in tf]
    before = data.shape[1:]
    m = data[0] != 0
    for c in range(1, data.shape[0]):
        m |= data[c] != 0
    m = binary_fill_holes(m)
    box = bbox_of(m)
    sl = tuple(slice(a, b) for a, b in box)
    data = data[(slice(None),) + sl]
    seg = np.where(m[sl][None], np.int8(0), np.int8(-1))
    after_crop = data.shape[1:]
    if len(target) < 3:
        target = [sp[0]] + target
    new_shape = [int(round(a / b * n)) for a, b, n in zip(sp, target, after_crop)]
    for c in range(data.shape[0]):
        data[c] = normalize(data[c], seg[0], p['normalization'][c])
    data = nnunet_resample(data, new_shape, sp, target, False, 3)
    seg = nnunet_resample(seg, new_shape, sp, target, True, 1)
    np.save(out('data') + '.npy', data)
    np.save(out('seg') + '.npy', seg.astype(np.float32))
    json.dump({'bbox': box, 'before': list(before), 'after_crop': list(after_crop), 'new_shape': new_shape},
              open(out('props') + '.json', 'w'))
    # export of the given logits
    logits = np.load(os.path.join(folder, 'logits_%s.npy' % i))
    lg = nnunet_resample(logits, after_crop, target, sp, False, 1)
    lg = torch.from_numpy(lg)
    regions = p['regions_class_order']
    if regions is not None:
        probs = torch.sigmoid(lg).numpy()
        s = np.zeros(probs.shape[1:], dtype=np.uint8)
        for k, c in enumerate(regions):
            s[probs[k] > 0.5] = c
    else:
        probs = torch.softmax(lg.float(), 0).numpy()
        s = probs.argmax(0)
    full = np.zeros(before, dtype=np.uint8)
    full[sl] = s
    np.save(out('labels') + '.npy', full.transpose(tb))
    pf = np.zeros((probs.shape[0], *before), dtype=np.float32)
    if regions is None:
        pf[0] = 1
    pf[(slice(None),) + sl] = probs
    np.save(out('probs') + '.npy', pf.transpose([0] + [a + 1 for a in tb]))
)PY";

std::vector<float> random_values(std::size_t n, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Random content inside a box, zero outside, with a zero "hole" in the middle of the box that
// binary_fill_holes must fill (in 3D) and a zero channel-0 voxel covered by channel 1.
Image make_case(const Shape& shape, std::vector<double> spacing, unsigned seed, bool integer_values = false) {
  Image image;
  image.shape = shape;
  image.spacing = std::move(spacing);
  image.source = "generated";
  const auto n = static_cast<std::size_t>(medport::shape_numel(shape));
  image.data = random_values(n, seed, integer_values ? 0.0F : -200.0F, integer_values ? 254.0F : 900.0F);
  if (integer_values)
    for (auto& v : image.data) v = std::round(v) + 1.0F;
  const Shape spatial(shape.begin() + 1, shape.end());
  const Shape strides = medport::contiguous_strides(spatial);
  const auto voxels = static_cast<std::size_t>(medport::shape_numel(spatial));
  for (std::size_t i = 0; i < voxels; ++i) {
    bool inside = true, centre = true;
    auto rest = static_cast<std::int64_t>(i);
    for (std::size_t a = 0; a < spatial.size(); ++a) {
      const std::int64_t c = rest / strides[a];
      rest %= strides[a];
      if (spatial[a] > 4) inside = inside && c >= 2 && c < spatial[a] - 1;
      centre = centre && std::llabs(2 * c - spatial[a]) <= 1;
    }
    if (!inside || centre)
      for (std::int64_t ch = 0; ch < shape[0]; ++ch) image.data[static_cast<std::size_t>(ch) * voxels + i] = 0.0F;
  }
  return image;
}

struct Scenario {
  Image image;
  PreprocessingConfig config;
  Json config_json;
  LabelConfig labels;
  std::int64_t heads = 3;
};

class PreprocessingVsPython : public ::testing::Test {
 protected:
  medport::testing::TempDir dir;

  void write_case(int id, const Scenario& s, const PreprocessedCase& pre, std::vector<float>& logits) {
    const std::string tag = std::to_string(id);
    const Image layout = to_nnunet_layout(s.image);
    medport::ckpt::write_npy_file(dir / ("in_" + tag + ".npy"), Tensor::from_f32(layout.shape, layout.data));
    Shape lshape{s.heads};
    lshape.insert(lshape.end(), pre.record.shape_after_resampling.begin(), pre.record.shape_after_resampling.end());
    logits = random_values(static_cast<std::size_t>(medport::shape_numel(lshape)), 7000U + static_cast<unsigned>(id), -4, 4);
    medport::ckpt::write_npy_file(dir / ("logits_" + tag + ".npy"), Tensor::from_f32(lshape, logits));
    Json j = s.config_json;
    j["kind"] = "pre";
    j["spacing"] = to_nnunet_layout(s.image).spacing;
    j["regions_class_order"] = s.labels.has_regions ? Json(s.labels.regions_class_order) : Json(nullptr);
    std::ofstream(dir / ("case_" + tag + ".json")) << j.dump();
  }
  void run_python() {
    const auto r = medport::testing::run_program({MEDPORT_PYTHON, "-c", kReference, dir.path().string(),
                                                   (medport::testing::source_dir() / "tests" / "python").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  Tensor npy(const std::string& name) { return medport::ckpt::read_npy_file(dir / name); }
  Json json(const std::string& name) { return Json::parse(std::ifstream(dir / name)); }
};

void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1.0;
  for (float w : want) scale = std::max(scale, std::fabs(static_cast<double>(w)));
  std::size_t bad = 0;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - want[i]);
    worst = std::max(worst, d);
    if (d > rel * scale) ++bad;
  }
  EXPECT_EQ(bad, 0U) << what << ": worst abs difference " << worst << " (scale " << scale << ")";
}

Json norm_json(const std::string& scheme, bool mask, const Json& props = nullptr) {
  return Json{{"scheme", scheme}, {"use_mask_for_norm", mask}, {"intensity_properties", props}};
}

Scenario scenario(Image image, Json normalization, Json spacing, std::vector<int> tf, std::vector<int> tb,
                  LabelConfig labels, std::int64_t heads) {
  Json sidecar;
  sidecar["normalization"] = normalization;
  sidecar["preprocessing"] = {{"spacing", spacing},
                              {"transpose_forward", tf},
                              {"transpose_backward", tb},
                              {"resampling_fn_data", "resample_data_or_seg_to_shape"},
                              {"resampling_fn_data_kwargs", {{"is_seg", false}, {"order", 3}, {"order_z", 0}, {"force_separate_z", nullptr}}},
                              {"resampling_fn_probabilities_kwargs", {{"is_seg", false}, {"order", 1}, {"order_z", 0}, {"force_separate_z", nullptr}}}};
  Scenario s{std::move(image), config_from_sidecar(sidecar, "test sidecar"), {}, labels, heads};
  s.config_json = {{"normalization", normalization},
                   {"target_spacing", spacing},
                   {"transpose_forward", tf},
                   {"transpose_backward", tb}};
  return s;
}

TEST_F(PreprocessingVsPython, PreprocessAndExportMatchUpstreamSteps) {
  const Json ct_props = {{"mean", 120.5}, {"std", 210.25}, {"median", 100.0}, {"min", -300.0}, {"max", 1000.0},
                         {"percentile_00_5", -150.0}, {"percentile_99_5", 800.0}};
  std::vector<Scenario> scenarios;
  // 3D, two channels, transposed, anisotropic after transpose (separate z along axis 1).
  scenarios.push_back(scenario(make_case({2, 9, 12, 10}, {2.5, 0.8, 0.9}, 11),
                               Json::array({norm_json("ZScoreNormalization", true), norm_json("CTNormalization", false, ct_props)}),
                               Json::array({1.1, 2.0, 1.0}), {2, 0, 1}, {1, 2, 0}, {}, 3));
  // 2D RGB image in nnU-Net's (C, 1, H, W) layout with a 2D configuration spacing.
  scenarios.push_back(scenario(make_case({3, 14, 17}, {1.0, 1.0}, 12, true),
                               Json::array({norm_json("RGBTo0_1Normalization", false), norm_json("RGBTo0_1Normalization", false),
                                            norm_json("RGBTo0_1Normalization", false)}),
                               Json::array({0.7, 1.3}), {0, 1, 2}, {0, 1, 2}, {}, 4));
  // 3D isotropic cubic resampling, ZScore without mask + RescaleTo01 + NoNorm, region export.
  scenarios.push_back(scenario(make_case({3, 8, 9, 11}, {1.0, 1.2, 0.9}, 13),
                               Json::array({norm_json("ZScoreNormalization", false), norm_json("RescaleTo01Normalization", false),
                                            norm_json("NoNormalization", false)}),
                               Json::array({1.4, 0.8, 1.1}), {0, 1, 2}, {0, 1, 2}, LabelConfig{true, {2, 1}}, 2));
  std::vector<PreprocessedCase> ours;
  std::vector<ExportedPrediction> exported;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    ours.push_back(preprocess(scenarios[i].image, scenarios[i].config));
    std::vector<float> logits;
    write_case(static_cast<int>(i), scenarios[i], ours.back(), logits);
    Shape lshape{scenarios[i].heads};
    const auto& r = ours.back().record.shape_after_resampling;
    lshape.insert(lshape.end(), r.begin(), r.end());
    exported.push_back(export_prediction(logits, lshape, ours.back().record, scenarios[i].config, scenarios[i].labels, true));
  }
  run_python();
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const std::string tag = std::to_string(i);
    SCOPED_TRACE("scenario " + tag);
    const Json props = json("props_" + tag + ".json");
    const auto& rec = ours[i].record;
    EXPECT_EQ(Json(rec.shape_before_cropping), props["before"]);
    EXPECT_EQ(Json(rec.shape_after_cropping), props["after_crop"]);
    EXPECT_EQ(Json(rec.shape_after_resampling), props["new_shape"]);
    Json bbox = Json::array();
    for (const auto& b : rec.bbox) bbox.push_back({b[0], b[1]});
    EXPECT_EQ(bbox, props["bbox"]);
    const auto data = npy("data_" + tag + ".npy");
    EXPECT_EQ(Shape(ours[i].shape), data.shape());
    expect_close(ours[i].data, data.to_f32(), 1e-5, "preprocessed data");
    expect_close(ours[i].seg, npy("seg_" + tag + ".npy").to_f32(), 0.0, "resampled nonzero seg");

    const auto labels = npy("labels_" + tag + ".npy");
    EXPECT_EQ(exported[i].shape, labels.shape());
    const auto want = labels.to_f32();
    std::size_t differ = 0;
    for (std::size_t k = 0; k < want.size() && k < exported[i].labels.size(); ++k)
      differ += static_cast<float>(exported[i].labels[k]) != want[k];
    EXPECT_EQ(differ, 0U) << "label voxels differ";
    const auto probs = npy("probs_" + tag + ".npy");
    EXPECT_EQ(exported[i].probabilities_shape, probs.shape());
    expect_close(exported[i].probabilities, probs.to_f32(), 1e-5, "probabilities");
  }
}

TEST_F(PreprocessingVsPython, FillHolesAndBboxMatchScipy) {
  const std::vector<Shape> shapes = {{12, 15}, {7, 9, 11}, {1, 10, 12}, {6, 1, 8}};
  std::vector<std::vector<std::uint8_t>> masks;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const auto n = static_cast<std::size_t>(medport::shape_numel(shapes[i]));
    const auto r = random_values(n, 300U + static_cast<unsigned>(i), 0, 1);
    std::vector<std::uint8_t> m(n);
    for (std::size_t k = 0; k < n; ++k) m[k] = r[k] < 0.55F;
    masks.push_back(m);
    const std::string tag = std::to_string(i);
    medport::ckpt::write_npy_file(dir / ("mask_" + tag + ".npy"),
                                  Tensor::from_bytes(medport::DType::U8, shapes[i], std::as_bytes(std::span(m))));
    std::ofstream(dir / ("case_" + tag + ".json")) << R"({"kind": "fill"})";
  }
  run_python();
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const std::string tag = std::to_string(i);
    const auto filled = binary_fill_holes(masks[i], shapes[i]);
    const auto want = npy("filled_" + tag + ".npy").to_f32();
    ASSERT_EQ(filled.size(), want.size());
    std::size_t differ = 0, changed = 0;
    for (std::size_t k = 0; k < want.size(); ++k) {
      differ += static_cast<float>(filled[k]) != want[k];
      changed += filled[k] != masks[i][k];
    }
    EXPECT_EQ(differ, 0U) << "shape " << medport::shape_string(shapes[i]);
    Json bbox = Json::array();
    for (const auto& b : bbox_from_mask(filled, shapes[i])) bbox.push_back({b[0], b[1]});
    EXPECT_EQ(bbox, json("bbox_" + tag + ".json"));
    if (i == 1) {
      EXPECT_GT(changed, 0U) << "the 3D mask should have holes to fill";
    }
  }
}

TEST(NnunetSteps, HandComputedCropAndNormalization) {
  // (1, 1, 4, 5): a 2D layout has no holes to fill (every voxel touches the z border).
  const std::vector<float> data = {0, 0, 0, 0, 0,  //
                                   0, 1, 0, 2, 0,  //
                                   0, 3, 4, 5, 0,  //
                                   0, 0, 0, 0, 0};
  const auto crop = crop_to_nonzero(data, {1, 1, 4, 5});
  EXPECT_EQ(crop.shape, (Shape{1, 1, 2, 3}));
  ASSERT_EQ(crop.bbox.size(), 3U);
  EXPECT_EQ(crop.bbox[1], (std::array<std::int64_t, 2>{1, 3}));
  EXPECT_EQ(crop.bbox[2], (std::array<std::int64_t, 2>{1, 4}));
  EXPECT_EQ(crop.data, (std::vector<float>{1, 0, 2, 3, 4, 5}));
  EXPECT_EQ(crop.seg, (std::vector<float>{0, -1, 0, 0, 0, 0}));

  std::vector<float> ch{1, 0, 2, 3, 4, 5};
  normalize_channel(ch, crop.seg, {NormalizationScheme::ZScore, true, std::nullopt});
  // mask values 1, 2, 3, 4, 5: mean 3, std sqrt(2); the masked-out 0 stays.
  EXPECT_NEAR(ch[0], -2.0 / std::sqrt(2.0), 1e-6);
  EXPECT_EQ(ch[1], 0.0F);
  EXPECT_NEAR(ch[5], 2.0 / std::sqrt(2.0), 1e-6);

  std::vector<float> ct{-1000, 0, 50, 3000};
  normalize_channel(ct, {}, {NormalizationScheme::CT, false, IntensityProperties{10, 20, -100, 500}});
  EXPECT_FLOAT_EQ(ct[0], -5.5F);
  EXPECT_FLOAT_EQ(ct[1], -0.5F);
  EXPECT_FLOAT_EQ(ct[2], 2.0F);
  EXPECT_FLOAT_EQ(ct[3], 24.5F);

  std::vector<float> rgb{0, 300};
  EXPECT_THROW(normalize_channel(rgb, {}, {NormalizationScheme::RGBTo01, false, std::nullopt}), medport::InputError);
  EXPECT_THROW(normalization_scheme_from_name("FancyNormalization"), medport::InputError);
}

TEST(NnunetSteps, AllZeroImageKeepsFullBbox) {
  const std::vector<float> zeros(2 * 3 * 4, 0.0F);
  const auto crop = crop_to_nonzero(zeros, {1, 2, 3, 4});
  EXPECT_EQ(crop.shape, (Shape{1, 2, 3, 4}));
  for (float s : crop.seg) EXPECT_EQ(s, -1.0F);
}

TEST(NnunetSteps, SidecarErrorsNameTheSource) {
  Json sidecar = {{"normalization", Json::array({norm_json("CTNormalization", false)})},
                  {"preprocessing", {{"spacing", {1.0, 1.0}}}}};
  try {
    config_from_sidecar(sidecar, "model.medport.json");
    FAIL() << "CT without intensity properties must be refused";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.medport.json"), std::string::npos);
  }
  sidecar["normalization"] = Json::array({norm_json("ZScoreNormalization", false)});
  sidecar["preprocessing"]["resampling_fn_data"] = "resample_torch_fornnunet";
  EXPECT_THROW(config_from_sidecar(sidecar, "s"), medport::InputError);
  sidecar["preprocessing"].erase("resampling_fn_data");
  const auto config = config_from_sidecar(sidecar, "s");
  EXPECT_EQ(config.transpose_forward, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(config.data_resampling.order, 3);
  // The channel count must match the model.
  Image two;
  two.shape = {2, 4, 4};
  two.data.assign(32, 1.0F);
  two.spacing = {1, 1};
  EXPECT_THROW(preprocess(two, config), medport::InputError);
}

}  // namespace
