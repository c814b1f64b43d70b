// PIL's Image.resize (libImaging/Resample.c semantics, written from its documented algorithm):
// per output pixel a window of the input weighted by the filter stretched by the downscale
// factor (antialiasing), weights normalized to sum 1; horizontal pass first, then vertical. For
// 8-bit images the weights are fixed point with 22 fraction bits and each pass rounds and clips
// to 0..255, as PIL does. NEAREST picks the pixel under each output pixel's centre.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "medport/error.hpp"
#include "medport/pipelines/classify/image_transform.hpp"

namespace medport::classify {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}
double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}
double box(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }
double hamming(double x) {
  x = std::fabs(x);
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x *= std::numbers::pi;
  return std::sin(x) / x * (0.54 + 0.46 * std::cos(x));
}
double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= std::numbers::pi;
  return std::sin(x) / x;
}
double lanczos(double x) { return (x > -3.0 && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

struct Filter {
  double (*fn)(double);
  double support;
};

Filter filter_for(Interpolation f) {
  switch (f) {
    case Interpolation::Bilinear: return {triangle, 1.0};
    case Interpolation::Bicubic: return {bicubic, 2.0};
    case Interpolation::Box: return {box, 0.5};
    case Interpolation::Hamming: return {hamming, 1.0};
    case Interpolation::Lanczos: return {lanczos, 3.0};
    case Interpolation::Nearest: break;
  }
  return {triangle, 1.0};
}

// Per output pixel: first input index and normalized weights.
struct Coefficients {
  std::vector<std::int64_t> first;
  std::vector<std::vector<double>> weights;
};

Coefficients coefficients(std::int64_t in_size, std::int64_t out_size, const Filter& filter) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filterscale = std::max(scale, 1.0);
  const double support = filter.support * filterscale;
  Coefficients c;
  c.first.resize(static_cast<std::size_t>(out_size));
  c.weights.resize(static_cast<std::size_t>(out_size));
  for (std::int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    auto xmin = static_cast<std::int64_t>(center - support + 0.5);  // C truncation, as PIL
    if (xmin < 0) xmin = 0;
    auto xmax = static_cast<std::int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    std::vector<double> w;
    double total = 0.0;
    for (std::int64_t x = xmin; x < xmax; ++x) {
      w.push_back(filter.fn((static_cast<double>(x) - center + 0.5) / filterscale));
      total += w.back();
    }
    if (total != 0.0)
      for (double& v : w) v /= total;
    c.first[static_cast<std::size_t>(xx)] = xmin;
    c.weights[static_cast<std::size_t>(xx)] = std::move(w);
  }
  return c;
}

// One pass along an axis of every plane: `count` lines of `in_len` samples `step` apart.
struct Axis {
  std::int64_t lines;      // per plane
  std::int64_t line_step;  // distance between lines
  std::int64_t step;       // distance between samples on a line
};

void resample_axis(const std::vector<float>& in, std::vector<float>& out, std::int64_t planes, std::int64_t in_plane,
                   std::int64_t out_plane, const Axis& in_axis, const Axis& out_axis, const Coefficients& c,
                   bool eight_bit) {
  const std::int64_t out_len = static_cast<std::int64_t>(c.first.size());
  std::vector<std::vector<std::int64_t>> fixed;
  if (eight_bit) {
    fixed.resize(c.weights.size());
    for (std::size_t i = 0; i < c.weights.size(); ++i)
      for (double w : c.weights[i]) {
        const double scaled = w * static_cast<double>(std::int64_t{1} << kPrecisionBits);
        fixed[i].push_back(static_cast<std::int64_t>(scaled < 0 ? scaled - 0.5 : scaled + 0.5));
      }
  }
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t line = 0; line < in_axis.lines; ++line) {
      const float* src = in.data() + p * in_plane + line * in_axis.line_step;
      float* dst = out.data() + p * out_plane + line * out_axis.line_step;
      for (std::int64_t o = 0; o < out_len; ++o) {
        const auto oi = static_cast<std::size_t>(o);
        const std::int64_t first = c.first[oi];
        if (eight_bit) {
          std::int64_t acc = std::int64_t{1} << (kPrecisionBits - 1);
          for (std::size_t k = 0; k < fixed[oi].size(); ++k)
            acc += static_cast<std::int64_t>(src[(first + static_cast<std::int64_t>(k)) * in_axis.step]) * fixed[oi][k];
          const std::int64_t v = acc >> kPrecisionBits;
          dst[o * out_axis.step] = static_cast<float>(acc <= 0 ? 0 : std::min<std::int64_t>(v, 255));
        } else {
          double acc = 0.0;
          for (std::size_t k = 0; k < c.weights[oi].size(); ++k)
            acc += static_cast<double>(src[(first + static_cast<std::int64_t>(k)) * in_axis.step]) * c.weights[oi][k];
          dst[o * out_axis.step] = static_cast<float>(acc);
        }
      }
    }
}

RgbImage nearest(const RgbImage& in, std::int64_t height, std::int64_t width) {
  RgbImage out{height, width, std::vector<float>(static_cast<std::size_t>(3 * height * width)), in.eight_bit, in.source};
  const double sy = static_cast<double>(in.height) / static_cast<double>(height);
  const double sx = static_cast<double>(in.width) / static_cast<double>(width);
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t y = 0; y < height; ++y) {
      const auto yi = std::min(in.height - 1, static_cast<std::int64_t>((static_cast<double>(y) + 0.5) * sy));
      for (std::int64_t x = 0; x < width; ++x) {
        const auto xi = std::min(in.width - 1, static_cast<std::int64_t>((static_cast<double>(x) + 0.5) * sx));
        out.data[static_cast<std::size_t>((c * height + y) * width + x)] =
            in.data[static_cast<std::size_t>((c * in.height + yi) * in.width + xi)];
      }
    }
  return out;
}

}  // namespace

RgbImage resize(const RgbImage& in, std::int64_t height, std::int64_t width, Interpolation interpolation) {
  if (height < 1 || width < 1) throw InputError(in.source, "cannot resize to " + std::to_string(height) + "x" + std::to_string(width));
  if (height == in.height && width == in.width) return in;
  if (interpolation == Interpolation::Nearest) return nearest(in, height, width);
  const Filter filter = filter_for(interpolation);
  RgbImage cur = in;
  if (width != in.width) {  // horizontal pass first, as PIL
    RgbImage next{cur.height, width, std::vector<float>(static_cast<std::size_t>(3 * cur.height * width)), cur.eight_bit,
                  cur.source};
    resample_axis(cur.data, next.data, 3, cur.height * cur.width, cur.height * width, {cur.height, cur.width, 1},
                  {cur.height, width, 1}, coefficients(cur.width, width, filter), cur.eight_bit);
    cur = std::move(next);
  }
  if (height != cur.height) {
    RgbImage next{height, cur.width, std::vector<float>(static_cast<std::size_t>(3 * height * cur.width)), cur.eight_bit,
                  cur.source};
    resample_axis(cur.data, next.data, 3, cur.height * cur.width, height * cur.width, {cur.width, 1, cur.width},
                  {cur.width, 1, cur.width}, coefficients(cur.height, height, filter), cur.eight_bit);
    cur = std::move(next);
  }
  return cur;
}

}  // namespace medport::classify
