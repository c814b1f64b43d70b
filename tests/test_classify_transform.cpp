// timm's evaluation transform without Python: PIL's resampling and torchvision's resize/crop
// rules, checked against timm's own transform (run at test time) on 8-bit images.
#include <cmath>
#include <cstdio>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/classify/image_transform.hpp"
#include "test_support.hpp"

using namespace medport;
using namespace medport::classify;

namespace {

RgbImage pattern(std::int64_t h, std::int64_t w) {
  RgbImage img{h, w, std::vector<float>(static_cast<std::size_t>(3 * h * w)), true, "pattern"};
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        img.data[static_cast<std::size_t>((c * h + y) * w + x)] =
            static_cast<float>((x * 7 + y * 13 + c * 50 + (x * y) % 29) % 256);
  return img;
}

// The image as an HxWx3 uint8 .npy file for Python.
void save_hwc(const RgbImage& img, const std::string& path) {
  std::vector<std::uint8_t> hwc(img.data.size());
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t i = 0; i < img.height * img.width; ++i)
      hwc[static_cast<std::size_t>(i * 3 + c)] = static_cast<std::uint8_t>(img.data[static_cast<std::size_t>(c * img.height * img.width + i)]);
  ckpt::write_npy_file(path, Tensor::from_bytes(DType::U8, {img.height, img.width, 3}, std::as_bytes(std::span(hwc))));
}

constexpr const char* kTimmTransform = R"(
import sys, numpy as np
from PIL import Image
from timm.data import create_transform
for line in open(sys.argv[1]):
    src, dst, h, w, interp, crop_pct, mode = line.split()
    t = create_transform(input_size=(3, int(h), int(w)), interpolation=interp, crop_pct=float(crop_pct),
                         crop_mode=mode, mean=(0, 0, 0), std=(1 / 255, 1 / 255, 1 / 255))
    np.save(dst, t(Image.fromarray(np.load(src))).numpy().astype(np.float32))
)";

struct Case {
  std::int64_t in_h, in_w, h, w;
  const char* interpolation;
  double crop_pct;
  const char* mode;
};

TEST(ClassifyTransform, MatchesTimmEvalTransform) {
  const medport::testing::TempDir tmp;
  const Case cases[] = {{300, 400, 224, 224, "bicubic", 0.875, "center"}, {480, 360, 176, 176, "bilinear", 0.95, "center"},
                        {100, 90, 224, 224, "bicubic", 0.9, "center"},    {333, 250, 160, 160, "nearest", 1.0, "center"},
                        {257, 301, 224, 224, "bicubic", 0.875, "squash"}, {300, 300, 192, 160, "bicubic", 0.875, "center"},
                        {256, 320, 240, 240, "lanczos", 0.875, "center"}};
  std::string jobs;
  int n = 0;
  for (const auto& c : cases) {
    const std::string id = std::to_string(n++);
    save_hwc(pattern(c.in_h, c.in_w), (tmp / ("in" + id + ".npy")).string());
    jobs += (tmp / ("in" + id + ".npy")).string() + " " + (tmp / ("out" + id + ".npy")).string() + " " +
            std::to_string(c.h) + " " + std::to_string(c.w) + " " + c.interpolation + " " + std::to_string(c.crop_pct) +
            " " + c.mode + "\n";
  }
  {
    std::FILE* f = std::fopen((tmp / "jobs.txt").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(jobs.c_str(), f);
    std::fclose(f);
  }
  MEDPORT_RUN_PYTHON_OR_SKIP(py, kTimmTransform, (tmp / "jobs.txt").string());
  n = 0;
  for (const auto& c : cases) {
    const std::string id = std::to_string(n++);
    TransformSettings s;
    s.height = c.h;
    s.width = c.w;
    s.interpolation = parse_interpolation(c.interpolation, "test");
    s.crop_pct = c.crop_pct;
    s.mode = std::string(c.mode) == "squash" ? ResizeMode::Squash : ResizeMode::Crop;
    const std::vector<float> got = eval_transform(pattern(c.in_h, c.in_w), s);
    const auto want = ckpt::read_npy_file(tmp / ("out" + id + ".npy")).to_f32();
    ASSERT_EQ(got.size(), want.size()) << c.in_h << "x" << c.in_w << " " << c.interpolation;
    float worst = 0;
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - std::round(want[i])));
    EXPECT_EQ(worst, 0.0f) << c.in_h << "x" << c.in_w << " -> " << c.h << "x" << c.w << " " << c.interpolation << " "
                           << c.mode;
  }
}

TEST(ClassifyTransform, CropAnchorsAndGrayImages) {
  RgbImage img = pattern(40, 20);
  TransformSettings s;
  s.height = s.width = 20;
  s.crop_pct = 1.0;
  s.anchor = CropAnchor::Top;
  const auto top = eval_transform(img, s);
  s.anchor = CropAnchor::Bottom;
  const auto bottom = eval_transform(img, s);
  EXPECT_EQ(top[0], img.data[0]);                              // row 0 of the 40-row image
  EXPECT_EQ(bottom[0], img.data[static_cast<std::size_t>(20 * 20)]);  // row 20

  imaging::Image gray;
  gray.shape = {1, 2, 3};
  gray.data = {0, 10, 20, 30, 40, 50};
  gray.spacing = {1, 1};
  gray.original_dtype = "uint8";
  gray.source = "gray.png";
  const RgbImage rgb = to_rgb(gray);
  ASSERT_EQ(rgb.data.size(), 18u);
  EXPECT_EQ(rgb.data[6 + 4], 40.0f);   // G plane equals the gray plane
  EXPECT_EQ(rgb.data[12 + 5], 50.0f);  // B plane too
  gray.shape = {2, 1, 3};
  EXPECT_THROW(to_rgb(gray), InputError);
  EXPECT_THROW(parse_interpolation("cubic", "x"), InputError);
}

TEST(ClassifyTransform, AbsurdAspectRatioRefusedBeforeTheResize) {
  // A 1 x 20000 strip resized with its ratio kept would be 256 x 5.1 million pixels.
  RgbImage strip{1, 20000, std::vector<float>(3 * 20000, 7.0F), true, "strip.png"};
  TransformSettings s;  // 224 x 224, crop_pct 0.875: the shorter side goes to 256
  try {
    eval_transform(strip, s);
    ADD_FAILURE() << "the strip was resized";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("strip.png"), std::string::npos) << what;
    EXPECT_NE(what.find("20000 x 1 pixels (longer side / shorter side 20000, more than 64)"), std::string::npos) << what;
  }
  s.height = 224;
  s.width = 192;  // timm's ResizeKeepRatio path explodes the same way
  EXPECT_THROW(eval_transform(strip, s), InputError);
  // Squash resizes to the target whatever the ratio: nothing explodes, the strip is classified.
  s.mode = ResizeMode::Squash;
  EXPECT_EQ(eval_transform(strip, s).size(), 3U * 224 * 192);
  // 64:1 is still read with its ratio kept.
  s.mode = ResizeMode::Crop;
  s.width = 224;
  const std::vector<float> wide = eval_transform(pattern(4, 256), s);
  EXPECT_EQ(wide.size(), 3U * 224 * 224);
}

}  // namespace
