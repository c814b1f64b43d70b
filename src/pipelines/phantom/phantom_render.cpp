// B-mode look: echogenicity per tissue with slow texture, blurred edges, multiplicative
// Rayleigh speckle (slightly correlated, longer laterally), depth attenuation partly
// compensated by time-gain, near-field haze, log compression and a soft fan edge.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "phantom_scene.hpp"

namespace medport::pipelines::phantom::detail {

namespace {

double echogenicity(Tissue t) {
  switch (t) {
    case Tissue::Outside: return 0.0;
    case Tissue::Background: return 0.08;
    case Tissue::LvCavity:
    case Tissue::LeftAtrium:
    case Tissue::RightHeart: return 0.012;
    case Tissue::Myocardium: return 0.28;
    case Tissue::Pericardium: return 0.8;
    case Tissue::RightWall: return 0.3;
    case Tissue::AtrialWall: return 0.22;
  }
  return 0.0;
}

// Uniform in [-1, 1), or standard normal.
cv::Mat noise_field(std::int64_t rows, std::int64_t cols, Random& random, bool normal) {
  cv::Mat m(static_cast<int>(rows), static_cast<int>(cols), CV_32F);
  for (int r = 0; r < m.rows; ++r)
    for (int c = 0; c < m.cols; ++c)
      m.at<float>(r, c) = static_cast<float>(normal ? random.normal() : random.uniform(-1.0, 1.0));
  return m;
}

}  // namespace

std::vector<std::uint8_t> render_bmode(const std::vector<Tissue>& tissue, const ViewGeometry& g, Random& random) {
  const int rows = static_cast<int>(g.rows), cols = static_cast<int>(g.cols);
  cv::Mat echo(rows, cols, CV_32F);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      echo.at<float>(r, c) = static_cast<float>(echogenicity(tissue[static_cast<std::size_t>(r) * cols + c]));

  // slow tissue texture (brighter and darker patches), only where there is tissue
  cv::Mat texture = noise_field(g.rows, g.cols, random, false);
  cv::GaussianBlur(texture, texture, cv::Size(0, 0), 6.0 / g.col_spacing_mm * 0.5, 6.0 / g.row_spacing_mm * 0.5);
  double lo = 0, hi = 0;
  cv::minMaxLoc(texture, &lo, &hi);
  const double scale = std::max(std::abs(lo), std::abs(hi)) + 1e-9;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      float& e = echo.at<float>(r, c);
      if (e > 0.05f) e *= static_cast<float>(1.0 + 0.7 * texture.at<float>(r, c) / scale);
    }

  const double edge_blur_mm = 1.2;
  cv::GaussianBlur(echo, echo, cv::Size(0, 0), edge_blur_mm / g.col_spacing_mm, edge_blur_mm / g.row_spacing_mm);

  // Fully developed speckle: the magnitude of a correlated complex Gaussian field (Rayleigh
  // amplitude); the grain is longer laterally than axially, as for a real transducer.
  cv::Mat re = noise_field(g.rows, g.cols, random, true), im = noise_field(g.rows, g.cols, random, true);
  cv::GaussianBlur(re, re, cv::Size(0, 0), 1.3, 0.6);
  cv::GaussianBlur(im, im, cv::Size(0, 0), 1.3, 0.6);
  cv::Mat speckle;
  cv::magnitude(re, im, speckle);
  const double mean_speckle = cv::mean(speckle)[0];

  std::vector<std::uint8_t> out(static_cast<std::size_t>(rows) * cols, 0);
  const double compression = 30.0;
  for (int r = 0; r < rows; ++r) {
    const double y = (r + 0.5) * g.row_spacing_mm;
    const double depth = y / g.depth_mm;
    const double gain = std::exp(-1.6 * depth) * (1.0 + 1.1 * depth);  // attenuation x time-gain compensation
    const double haze = 0.08 * std::exp(-y / 12.0);
    for (int c = 0; c < cols; ++c) {
      const double x = (c + 0.5 - cols / 2.0) * g.col_spacing_mm;
      const double radius = std::hypot(x, y), angle = std::atan2(std::abs(x), y);
      // soft fan border over ~1.5 mm
      const double inside = std::clamp(std::min(g.depth_mm - radius, (g.half_angle_rad - angle) * radius) / 1.5, 0.0, 1.0);
      if (inside <= 0.0) continue;
      const double signal = (echo.at<float>(r, c) + haze) * gain * speckle.at<float>(r, c) / mean_speckle;
      const double v = std::log1p(compression * std::max(0.0, signal)) / std::log1p(compression) * inside;
      out[static_cast<std::size_t>(r) * cols + c] = static_cast<std::uint8_t>(std::clamp(std::lround(v * 255.0), 0L, 255L));
    }
  }
  return out;
}

}  // namespace medport::pipelines::phantom::detail
