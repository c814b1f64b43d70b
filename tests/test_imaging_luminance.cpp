// Colour frames to luminance (imaging/luminance.hpp), as segment and fewshot feed RGB(A) exports
// of gray echo frames to one-channel models.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "medport/imaging/image_io.hpp"
#include "medport/imaging/luminance.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using medport::testing::TempDir;

TEST(ImagingLuminance, Bt601WeightsAndGrayCopiesComeBackExactly) {
  TempDir dir;
  cv::Mat bgr(2, 3, CV_8UC3), bgra(2, 3, CV_8UC4), gray(2, 3, CV_8UC1);
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c) {
      const auto v = static_cast<std::uint8_t>(40 * (r * 3 + c) + 7);
      gray.at<std::uint8_t>(r, c) = v;
      bgra.at<cv::Vec4b>(r, c) = cv::Vec4b(v, v, v, 128);  // alpha is ignored
    }
  bgr.at<cv::Vec3b>(0, 0) = cv::Vec3b(30, 20, 10);  // B, G, R
  ASSERT_TRUE(cv::imwrite((dir / "rgb.png").string(), bgr));
  ASSERT_TRUE(cv::imwrite((dir / "rgba.png").string(), bgra));
  ASSERT_TRUE(cv::imwrite((dir / "gray.png").string(), gray));

  const auto rgb = imaging::read_image(dir / "rgb.png");
  ASSERT_TRUE(imaging::is_colour_frame(rgb));
  const auto y = imaging::to_luminance(rgb);
  EXPECT_EQ(y.shape, (Shape{1, 2, 3}));
  EXPECT_FLOAT_EQ(y.data[0], static_cast<float>(0.299 * 10 + 0.587 * 20 + 0.114 * 30));

  const auto from_rgba = imaging::to_luminance(imaging::read_image(dir / "rgba.png"));
  const auto g = imaging::read_image(dir / "gray.png");
  EXPECT_FALSE(imaging::is_colour_frame(g));
  EXPECT_EQ(from_rgba.data, g.data);
  EXPECT_EQ(imaging::to_luminance(g).data, g.data);  // one channel: unchanged
}

}  // namespace
