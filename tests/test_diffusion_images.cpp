// EchoGAINS image handling: guided-diffusion center_crop_arr (box halving, bicubic, centre crop),
// grey -> RGB replication, and the get_repaint_mask sector keep-mask. Expected values are worked
// out by hand, or come from PIL itself (skipped when /usr/bin/python3 has no PIL).
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "medport/error.hpp"
#include "medport/pipelines/diffusion/images.hpp"
#include "hostile_files.hpp"
#include "test_support.hpp"

namespace {

namespace d = medport::diffusion;
namespace fs = std::filesystem;
using Pixels = std::vector<std::uint8_t>;

TEST(DiffusionImages, CropOfAnImageAtTheSizeIsTheImage) {
  Pixels p(16);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 10);
  EXPECT_EQ(d::center_crop_pixels(p, 4, 4, 1, 4), p);
}

TEST(DiffusionImages, WiderImageIsCroppedInTheCentreWithoutResizing) {
  // 2 rows x 6 columns, size 2: the short side already equals 2, columns 2..3 survive.
  const Pixels p = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};
  EXPECT_EQ(d::center_crop_pixels(p, 2, 6, 1, 2), (Pixels{2, 3, 12, 13}));
}

TEST(DiffusionImages, BoxHalvingAveragesTwoByTwoBlocks) {
  // 4x4 -> size 2: one halving (4 >= 2*2), no bicubic step needed.
  const Pixels p = {0, 2, 10, 20, 4, 6, 30, 40, 100, 100, 7, 7, 100, 100, 9, 9};
  EXPECT_EQ(d::center_crop_pixels(p, 4, 4, 1, 2), (Pixels{3, 25, 100, 8}));
}

TEST(DiffusionImages, ConstantImageStaysConstantThroughHalvingAndBicubic) {
  // 10 x 12 RGB, size 4: halve to 5 x 6, bicubic to 4 x round(4.8) = 4 x 5, crop 4 x 4.
  Pixels p(10 * 12 * 3);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i % 3 == 0 ? 77 : i % 3 == 1 ? 5 : 200);
  const Pixels out = d::center_crop_pixels(p, 10, 12, 3, 4);
  ASSERT_EQ(out.size(), 4u * 4u * 3u);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], p[i % 3]) << i;
}

TEST(DiffusionImages, BadCropArgumentsAreInputErrors) {
  EXPECT_THROW(d::center_crop_pixels(Pixels(5), 2, 2, 1, 2), medport::InputError);
  EXPECT_THROW(d::center_crop_pixels(Pixels(4), 2, 2, 1, 0), medport::InputError);
}

void write_pgm(const fs::path& path, int h, int w, const Pixels& p) {
  std::ofstream f(path, std::ios::binary);
  f << "P5\n" << w << " " << h << "\n255\n";
  f.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size()));
}

TEST(DiffusionImages, LoadedGreyImageIsCroppedAndReplicatedToRgb) {
  medport::testing::TempDir dir;
  write_pgm(dir / "g.pgm", 2, 6, {0, 1, 2, 3, 4, 255, 10, 11, 12, 51, 14, 15});
  const medport::Tensor t = d::load_diffusion_image(dir / "g.pgm", 3, 2);
  ASSERT_EQ(t.shape(), (medport::Shape{1, 3, 2, 2}));
  const auto v = t.to_f32();
  const float want[4] = {2 / 127.5f - 1, 3 / 127.5f - 1, 12 / 127.5f - 1, 51 / 127.5f - 1};
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(v[static_cast<std::size_t>(c * 4 + i)], want[i]);
  }
}

TEST(DiffusionImages, DamagedJpegIsRefusedNotFilledWithGray) {
  medport::testing::TempDir dir;
  const std::string jpg = medport::testing::jpeg_bytes(64, 64);
  medport::testing::write_bytes(dir / "ok.jpg", jpg);
  EXPECT_EQ(d::load_diffusion_image(dir / "ok.jpg", 1, 0).shape(), (medport::Shape{1, 1, 64, 64}));
  medport::testing::write_bytes(dir / "cut.jpg", medport::testing::truncate_to(jpg, 0.6));
  try {
    d::load_diffusion_image(dir / "cut.jpg", 1, 0);
    ADD_FAILURE() << "a cut-short JPEG was loaded";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.jpg: damaged JPEG"), std::string::npos) << e.what();
  }
}

// Bicubic downscale (scale in (0.5, 1]) against PIL: OpenCV has no antialiasing and a = -0.75,
// so only closeness is expected on a smooth image.
TEST(DiffusionImages, BicubicStepIsCloseToPilOnASmoothImage) {
  medport::testing::TempDir dir;
  const int h = 45, w = 60, size = 32;  // 45 < 64: no halving; bicubic to 32 x round(42.67) = 43
  Pixels p(static_cast<std::size_t>(h * w));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) p[static_cast<std::size_t>(y * w + x)] = static_cast<std::uint8_t>(2 * x + y);
  }
  write_pgm(dir / "in.pgm", h, w, p);
  const std::string script =
      "import sys, numpy as np\nfrom PIL import Image\nim = Image.open(sys.argv[1])\ns = int(sys.argv[3])\n"
      "while min(*im.size) >= 2 * s: im = im.resize(tuple(x // 2 for x in im.size), resample=Image.BOX)\n"
      "k = s / min(*im.size)\nim = im.resize(tuple(round(x * k) for x in im.size), resample=Image.BICUBIC)\n"
      "a = np.array(im)\ny0 = (a.shape[0] - s) // 2\nx0 = (a.shape[1] - s) // 2\n"
      "open(sys.argv[2], 'wb').write(a[y0:y0 + s, x0:x0 + s].astype(np.uint8).tobytes())\n";
  const auto r = medport::testing::run_program(
      {MEDPORT_PYTHON, "-c", script, (dir / "in.pgm").string(), (dir / "pil.raw").string(), std::to_string(size)});
  if (r.exit_code != 0) GTEST_SKIP() << "PIL not available: " << r.err;
  std::ifstream f(dir / "pil.raw", std::ios::binary);
  const Pixels pil((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const Pixels ours = d::center_crop_pixels(p, h, w, 1, size);
  ASSERT_EQ(ours.size(), pil.size());
  int worst = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::abs(int{ours[i]} - int{pil[i]}));
  EXPECT_LE(worst, 3);  // linear ramp: the kernels agree up to rounding away from the borders
  RecordProperty("max_abs_diff_vs_pil", worst);
}

TEST(DiffusionImages, SectorMaskKeepsTheSectorMinusItsBorder) {
  // 5 x 5 grey image, zero background except a 3 x 4 block (rows 1..3, cols 1..4).
  std::vector<float> x(25, -1.0f);
  for (int y = 1; y <= 3; ++y) {
    for (int c = 1; c <= 4; ++c) x[static_cast<std::size_t>(y * 5 + c)] = 0.25f;
  }
  const medport::Tensor image = medport::Tensor::from_f32({1, 1, 5, 5}, x);
  // border 2: cv2.dilate with a 2x2 box (anchor 1,1) grows the background down and right by
  // one pixel, so row 1 and column 1 of the block are repainted; column 4 touches the image
  // edge and stays.
  const std::vector<float> want = {0, 0, 0, 0, 0,  //
                                   0, 0, 0, 0, 0,  //
                                   0, 0, 1, 1, 1,  //
                                   0, 0, 1, 1, 1,  //
                                   0, 0, 0, 0, 0};
  EXPECT_EQ(d::sector_keep_mask(image, 2).to_f32(), want);
  // border 1: the sector itself.
  std::vector<float> sector(25, 0.0f);
  for (std::size_t i = 0; i < 25; ++i) sector[i] = x[i] > -1.0f ? 1.0f : 0.0f;
  EXPECT_EQ(d::sector_keep_mask(image, 1).to_f32(), sector);
  // border 3 (anchor 1): one pixel on every side but the image edge.
  const std::vector<float> want3 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(d::sector_keep_mask(image, 3).to_f32(), want3);
}

TEST(DiffusionImages, SectorMaskIsReplicatedOverChannels) {
  std::vector<float> x(3 * 4, -1.0f);
  x[4 + 1] = 0.5f;  // channel 1 only: still inside
  const auto m = d::sector_keep_mask(medport::Tensor::from_f32({1, 3, 2, 2}, x), 1).to_f32();
  EXPECT_EQ(m, (std::vector<float>{0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0}));
}

}  // namespace
