#include "medport/pipelines/segment/overlay.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medport/error.hpp"

namespace medport::segment {

std::array<std::uint8_t, 3> label_colour(int label) {
  // Distinct, colour-blind-friendly hues for the first labels (CAMUS: LV red, MYO green, LA blue).
  static constexpr std::array<std::array<std::uint8_t, 3>, 10> palette{{{0, 0, 0},
                                                                         {230, 57, 70},
                                                                         {42, 200, 110},
                                                                         {55, 125, 240},
                                                                         {250, 200, 40},
                                                                         {190, 90, 220},
                                                                         {40, 210, 220},
                                                                         {245, 130, 40},
                                                                         {150, 230, 60},
                                                                         {240, 110, 180}}};
  if (label >= 0 && label < static_cast<int>(palette.size())) return palette[static_cast<std::size_t>(label)];
  // Further labels: golden-angle hues.
  const double hue = std::fmod(label * 137.508, 360.0);
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue / 2.0, 200, 230)), rgb;
  cv::cvtColor(hsv, rgb, cv::COLOR_HSV2RGB);
  const auto p = rgb.at<cv::Vec3b>(0, 0);
  return {p[0], p[1], p[2]};
}

namespace {

cv::Scalar bgr(int label) {
  const auto c = label_colour(label);
  return cv::Scalar(c[2], c[1], c[0]);
}

cv::Mat grey_image(std::span<const float> image, int height, int width) {
  float lo = 0.0F, hi = 0.0F;
  bool first = true;
  for (float v : image)
    if (std::isfinite(v)) {
      lo = first ? v : std::min(lo, v);
      hi = first ? v : std::max(hi, v);
      first = false;
    }
  const float scale = hi > lo ? 255.0F / (hi - lo) : 0.0F;
  cv::Mat grey(height, width, CV_8UC1);
  for (int r = 0; r < height; ++r)
    for (int c = 0; c < width; ++c) {
      const float v = image[static_cast<std::size_t>(r) * static_cast<std::size_t>(width) + static_cast<std::size_t>(c)];
      grey.at<std::uint8_t>(r, c) = std::isfinite(v) ? cv::saturate_cast<std::uint8_t>((v - lo) * scale) : 0;
    }
  cv::Mat colour;
  cv::cvtColor(grey, colour, cv::COLOR_GRAY2BGR);
  return colour;
}

}  // namespace

std::vector<std::byte> render_overlay_png(std::span<const float> image, std::span<const std::uint8_t> labels,
                                          std::int64_t height, std::int64_t width,
                                          const std::vector<std::string>& label_names, const OverlayOptions& options) {
  if (height <= 0 || width <= 0 || height > 16384 || width > 16384 ||
      image.size() != static_cast<std::size_t>(height * width) || labels.size() != image.size())
    throw InputError("overlay", "image and labels must both be (H, W) with 1..16384 pixels per side");
  const int h = static_cast<int>(height), w = static_cast<int>(width);
  const int scale = std::max(1, (options.min_size + w - 1) / w);
  cv::Mat base = grey_image(image, h, w);
  cv::Mat label_mat(h, w, CV_8UC1, const_cast<std::uint8_t*>(labels.data()));
  if (scale > 1) {
    cv::resize(base, base, cv::Size(w * scale, h * scale), 0, 0, cv::INTER_NEAREST);
    cv::resize(label_mat.clone(), label_mat, cv::Size(w * scale, h * scale), 0, 0, cv::INTER_NEAREST);
  } else {
    label_mat = label_mat.clone();
  }

  // Nearest-neighbour upscaling keeps the label set, so one pass over the input labels finds it.
  std::array<bool, 256> seen{};
  for (const std::uint8_t v : labels) seen[v] = true;
  std::vector<int> present;
  for (int v = 1; v < 256; ++v)
    if (seen[static_cast<std::size_t>(v)]) present.push_back(v);

  cv::Mat canvas = base.clone();
  for (int v : present) {
    const cv::Mat mask = label_mat == v;
    if (options.contours) {
      std::vector<std::vector<cv::Point>> contours;
      cv::findContours(mask, contours, cv::RETR_LIST, cv::CHAIN_APPROX_NONE);
      cv::drawContours(canvas, contours, -1, bgr(v), std::max(1, scale), cv::LINE_8);
    } else {
      cv::Mat colour(canvas.size(), CV_8UC3, bgr(v)), blended;
      cv::addWeighted(base, 1.0 - options.alpha, colour, options.alpha, 0.0, blended);
      blended.copyTo(canvas, mask);
    }
  }

  // Legend strip under the image: a swatch and the name of every label the model knows.
  const int rows_needed = static_cast<int>(std::max<std::size_t>(label_names.size(), 2)) - 1;
  const double font = 0.5;
  const int line = 22, pad = 8;
  const int columns = std::max(1, canvas.cols / 150);
  const int legend_rows = (rows_needed + columns - 1) / columns;
  cv::Mat out(canvas.rows + legend_rows * line + 2 * pad, canvas.cols, CV_8UC3, cv::Scalar(32, 32, 32));
  canvas.copyTo(out(cv::Rect(0, 0, canvas.cols, canvas.rows)));
  const int column_width = canvas.cols / columns;
  for (int v = 1; v < static_cast<int>(std::max<std::size_t>(label_names.size(), 2)); ++v) {
    const int slot = v - 1;
    const int x = pad + (slot % columns) * column_width;
    const int y = canvas.rows + pad + (slot / columns) * line;
    cv::rectangle(out, cv::Rect(x, y + 3, 14, 14), bgr(v), cv::FILLED);
    std::string name = v < static_cast<int>(label_names.size()) ? label_names[static_cast<std::size_t>(v)] : std::to_string(v);
    if (std::find(present.begin(), present.end(), v) == present.end()) name += " (none)";
    cv::putText(out, name, cv::Point(x + 20, y + 15), cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(235, 235, 235), 1,
                cv::LINE_AA);
  }
  std::vector<std::uint8_t> png;
  if (!cv::imencode(".png", out, png)) throw std::runtime_error("OpenCV could not encode the overlay PNG");
  std::vector<std::byte> bytes(png.size());
  std::transform(png.begin(), png.end(), bytes.begin(), [](std::uint8_t b) { return std::byte{b}; });
  return bytes;
}

}  // namespace medport::segment
