// The probability-over-time plot of `classify --video`, drawn with OpenCV.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medport/pipelines/classify/video.hpp"

namespace medport::classify {
namespace {

constexpr int kWidth = 1100, kHeight = 560;
constexpr int kLeft = 70, kRight = 220, kTop = 50, kBottom = 60;

cv::Scalar class_colour(std::size_t i) {  // BGR; a qualitative palette
  static const cv::Scalar palette[] = {{180, 119, 31}, {14, 127, 255}, {44, 160, 44},  {40, 39, 214},
                                       {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {127, 127, 127},
                                       {34, 189, 188},  {207, 190, 23}};
  return palette[i % std::size(palette)];
}

void dashed(cv::Mat& img, cv::Point a, cv::Point b, const cv::Scalar& colour, double& phase) {
  const double len = std::hypot(b.x - a.x, b.y - a.y);
  constexpr double dash = 7.0;
  for (double t = 0; t < len; t += 1.0) {
    if (std::fmod(phase + t, 2 * dash) < dash) {
      const cv::Point p(a.x + static_cast<int>((b.x - a.x) * t / len), a.y + static_cast<int>((b.y - a.y) * t / len));
      cv::circle(img, p, 1, colour, cv::FILLED, cv::LINE_AA);
    }
  }
  phase += len;
}

}  // namespace

std::vector<std::uint8_t> rgb_png(const RgbImage& image) {
  cv::Mat bgr(static_cast<int>(image.height), static_cast<int>(image.width), CV_8UC3);
  const std::int64_t plane = image.height * image.width;
  for (std::int64_t y = 0; y < image.height; ++y)
    for (std::int64_t x = 0; x < image.width; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = image.data[static_cast<std::size_t>(c * plane + y * image.width + x)];
        bgr.at<cv::Vec3b>(static_cast<int>(y), static_cast<int>(x))[2 - c] =
            static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
  std::vector<std::uint8_t> png;
  cv::imencode(".png", bgr, png);
  return png;
}

std::vector<std::uint8_t> probability_plot_png(const std::vector<const std::vector<FrameResult>*>& runs,
                                               const std::vector<std::string>& run_labels,
                                               const models::timm::ClassifierConfig& config, const std::string& title) {
  cv::Mat img(kHeight, kWidth, CV_8UC3, cv::Scalar(255, 255, 255));
  const int x0 = kLeft, x1 = kWidth - kRight, y0 = kTop, y1 = kHeight - kBottom;
  double t_min = 0, t_max = 1;
  bool first = true;
  for (const auto* run : runs)
    for (const auto& f : *run) {
      t_min = first ? f.time_s : std::min(t_min, f.time_s);
      t_max = first ? f.time_s : std::max(t_max, f.time_s);
      first = false;
    }
  if (t_max <= t_min) t_max = t_min + 1.0;
  auto px = [&](double t) { return x0 + static_cast<int>(std::lround((t - t_min) / (t_max - t_min) * (x1 - x0))); };
  auto py = [&](double p) { return y1 - static_cast<int>(std::lround(p * (y1 - y0))); };

  const cv::Scalar grey(200, 200, 200), black(0, 0, 0);
  for (int i = 0; i <= 4; ++i) {
    const int y = py(i / 4.0);
    cv::line(img, {x0, y}, {x1, y}, grey, 1);
    cv::putText(img, fmt::format("{:.2f}", i / 4.0), {x0 - 55, y + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
  }
  for (int i = 0; i <= 5; ++i) {
    const double t = t_min + (t_max - t_min) * i / 5.0;
    const int x = px(t);
    cv::line(img, {x, y1}, {x, y1 + 5}, black, 1);
    cv::putText(img, fmt::format("{:.2f}", t), {x - 18, y1 + 22}, cv::FONT_HERSHEY_SIMPLEX, 0.45, black, 1, cv::LINE_AA);
  }
  cv::rectangle(img, {x0, y0}, {x1, y1}, black, 1);
  cv::putText(img, "time (s)", {(x0 + x1) / 2 - 30, kHeight - 15}, cv::FONT_HERSHEY_SIMPLEX, 0.5, black, 1, cv::LINE_AA);
  cv::putText(img, "probability", {8, y0 - 8}, cv::FONT_HERSHEY_SIMPLEX, 0.5, black, 1, cv::LINE_AA);
  cv::putText(img, title, {x0 + 40, 22}, cv::FONT_HERSHEY_SIMPLEX, 0.6, black, 1, cv::LINE_AA);

  for (std::size_t r = 0; r < runs.size(); ++r) {
    for (std::int64_t k = 0; k < config.num_classes; ++k) {
      const cv::Scalar colour = class_colour(static_cast<std::size_t>(k));
      double phase = 0;
      const auto& frames = *runs[r];
      for (std::size_t i = 0; i < frames.size(); ++i) {
        const cv::Point p(px(frames[i].time_s), py(frames[i].prediction.probs[static_cast<std::size_t>(k)]));
        if (frames.size() == 1) cv::circle(img, p, 3, colour, cv::FILLED, cv::LINE_AA);
        if (i == 0) continue;
        const cv::Point q(px(frames[i - 1].time_s), py(frames[i - 1].prediction.probs[static_cast<std::size_t>(k)]));
        if (r == 0) cv::line(img, q, p, colour, 2, cv::LINE_AA);
        else dashed(img, q, p, colour, phase);
      }
    }
  }
  int ly = y0 + 10;
  for (std::int64_t k = 0; k < config.num_classes; ++k, ly += 22) {
    cv::line(img, {x1 + 15, ly}, {x1 + 45, ly}, class_colour(static_cast<std::size_t>(k)), 3, cv::LINE_AA);
    cv::putText(img, config.class_label(k), {x1 + 52, ly + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.5, black, 1, cv::LINE_AA);
  }
  ly += 10;
  for (std::size_t r = 0; r < run_labels.size() && r < 2; ++r, ly += 22) {
    cv::putText(img, (r == 0 ? "solid: " : "dashed: ") + run_labels[r], {x1 + 15, ly + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.4,
                black, 1, cv::LINE_AA);
  }
  std::vector<std::uint8_t> png;
  cv::imencode(".png", img, png);
  return png;
}

}  // namespace medport::classify
