#include "medport/pipelines/fewshot/prototype_plot.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::pipelines::fewshot {
namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kBlack(0, 0, 0), kGrid(225, 225, 225), kAxis(90, 90, 90), kWhite(255, 255, 255);

// matplotlib's "tab10" colours, as BGR.
cv::Scalar class_colour(std::size_t index) {
  static const int rgb[10][3] = {{31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
                                 {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  const int* c = rgb[index % 10];
  return cv::Scalar(c[2], c[1], c[0]);
}

struct Range {
  double lo, hi;
};

Range padded_range(const std::vector<std::array<double, 2>>& xy, std::size_t axis) {
  double lo = xy[0][axis], hi = xy[0][axis];
  for (const auto& p : xy) lo = std::min(lo, p[axis]), hi = std::max(hi, p[axis]);
  const double span = hi - lo;
  if (span <= 1e-12 * std::max(1.0, std::abs(hi))) return {lo - 1.0, hi + 1.0};
  return {lo - 0.08 * span, hi + 0.08 * span};
}

// Tick values at 1, 2 or 5 times a power of ten, about five per axis.
std::vector<double> nice_ticks(Range r) {
  const double raw = (r.hi - r.lo) / 5.0;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(r.lo / step) * step; t <= r.hi + 1e-9 * step; t += step)
    ticks.push_back(std::abs(t) < 1e-9 * step ? 0.0 : t);
  return ticks;
}

std::string tick_label(double v) { return cv::format("%.4g", v); }

void put_centred(cv::Mat& img, const std::string& text, cv::Point centre, double scale, int thickness,
                 const cv::Scalar& colour = kBlack) {
  int base = 0;
  const cv::Size size = cv::getTextSize(text, kFont, scale, thickness, &base);
  cv::putText(img, text, {centre.x - size.width / 2, centre.y + size.height / 2}, kFont, scale, colour, thickness,
              cv::LINE_AA);
}

// Text rotated 90 degrees counter-clockwise, centred on `centre`.
void put_vertical(cv::Mat& img, const std::string& text, cv::Point centre, double scale) {
  int base = 0;
  const cv::Size size = cv::getTextSize(text, kFont, scale, 1, &base);
  cv::Mat strip(size.height + base + 4, size.width + 4, CV_8UC3, kWhite);
  cv::putText(strip, text, {2, size.height + 2}, kFont, scale, kBlack, 1, cv::LINE_AA);
  cv::Mat turned;
  cv::rotate(strip, turned, cv::ROTATE_90_COUNTERCLOCKWISE);
  const cv::Rect where(centre.x - turned.cols / 2, centre.y - turned.rows / 2, turned.cols, turned.rows);
  if ((where & cv::Rect(0, 0, img.cols, img.rows)) == where) turned.copyTo(img(where));
}

void draw_diamond(cv::Mat& img, cv::Point c, int r, const cv::Scalar& colour) {
  const std::vector<cv::Point> pts{{c.x, c.y - r}, {c.x + r, c.y}, {c.x, c.y + r}, {c.x - r, c.y}};
  cv::fillConvexPoly(img, pts, colour, cv::LINE_AA);
  cv::polylines(img, pts, true, kBlack, 1, cv::LINE_AA);
}

// A ring with a thin dark edge, so an example on top of its prototype stays visible.
void draw_example(cv::Mat& img, cv::Point c, const cv::Scalar& colour) {
  cv::circle(img, c, 7, kBlack, 1, cv::LINE_AA);
  cv::circle(img, c, 5, colour, 2, cv::LINE_AA);
}

}  // namespace

std::vector<PlotPoint> plot_points(const BankContents& bank) {
  std::vector<PlotPoint> points;
  for (const auto id : bank.bank.class_ids())
    points.push_back({id, true, "class " + std::to_string(id), bank.bank.get(id)});
  for (const auto& e : bank.examples) points.push_back({e.class_id, false, e.source, e.embedding});
  return points;
}

PrototypePlot write_prototype_plot(const std::filesystem::path& png, const BankContents& bank,
                                   const PlotOptions& options) {
  return write_prototype_plot(png, plot_points(bank), options);
}

PrototypePlot write_prototype_plot(const std::filesystem::path& png, const std::vector<PlotPoint>& points,
                                   const PlotOptions& options) {
  if (points.empty()) throw InputError("prototype plot", "the memory bank holds nothing to plot");
  if (options.width < 400 || options.height < 300) throw UsageError("prototype plot: at least 400 x 300 pixels");
  std::vector<Tensor> rows;
  for (const auto& p : points) rows.push_back(p.embedding);
  PrototypePlot plot{points, pca_2d(rows)};
  const auto& xy = plot.projection.coordinates;

  cv::Mat img(options.height, options.width, CV_8UC3, kWhite);
  const cv::Rect area(100, 60, options.width - 100 - 230, options.height - 60 - 90);
  const Range rx = padded_range(xy, 0), ry = padded_range(xy, 1);
  auto to_pixel = [&](double x, double y) {
    return cv::Point(area.x + static_cast<int>(std::lround((x - rx.lo) / (rx.hi - rx.lo) * area.width)),
                     area.y + area.height - static_cast<int>(std::lround((y - ry.lo) / (ry.hi - ry.lo) * area.height)));
  };

  for (double t : nice_ticks(rx)) {
    const int px = to_pixel(t, ry.lo).x;
    cv::line(img, {px, area.y}, {px, area.y + area.height}, kGrid, 1);
    cv::line(img, {px, area.y + area.height}, {px, area.y + area.height + 6}, kAxis, 1);
    put_centred(img, tick_label(t), {px, area.y + area.height + 20}, 0.45, 1);
  }
  for (double t : nice_ticks(ry)) {
    const int py = to_pixel(rx.lo, t).y;
    cv::line(img, {area.x, py}, {area.x + area.width, py}, kGrid, 1);
    cv::line(img, {area.x - 6, py}, {area.x, py}, kAxis, 1);
    int base = 0;
    const std::string label = tick_label(t);
    const cv::Size size = cv::getTextSize(label, kFont, 0.45, 1, &base);
    cv::putText(img, label, {area.x - 10 - size.width, py + size.height / 2}, kFont, 0.45, kBlack, 1, cv::LINE_AA);
  }
  cv::rectangle(img, area, kAxis, 1);

  std::map<std::int64_t, std::size_t> colour_of;  // class id -> palette index, in id order
  for (const auto& p : points) colour_of.emplace(p.class_id, 0);
  std::size_t next = 0;
  for (auto& [id, index] : colour_of) index = next++;
  for (std::size_t i = 0; i < points.size(); ++i)
    if (points[i].is_prototype) {
      const cv::Point c = to_pixel(xy[i][0], xy[i][1]);
      draw_diamond(img, c, 10, class_colour(colour_of[points[i].class_id]));
      cv::putText(img, std::to_string(points[i].class_id), {c.x + 12, c.y - 8}, kFont, 0.5, kBlack, 1, cv::LINE_AA);
    }
  std::map<std::int64_t, int> examples_of;
  for (std::size_t i = 0; i < points.size(); ++i)
    if (!points[i].is_prototype) {
      draw_example(img, to_pixel(xy[i][0], xy[i][1]), class_colour(colour_of[points[i].class_id]));
      ++examples_of[points[i].class_id];
    }

  const auto& ev = plot.projection.explained_variance;
  put_centred(img, options.title, {options.width / 2, 28}, 0.65, 1);
  put_centred(img, cv::format("PC1 (%.1f%% of variance)", 100.0 * ev[0]),
              {area.x + area.width / 2, options.height - 30}, 0.55, 1);
  put_vertical(img, cv::format("PC2 (%.1f%% of variance)", 100.0 * ev[1]), {30, area.y + area.height / 2}, 0.55);

  // Legend: one line per class, then the marker key.
  const int lx = area.x + area.width + 20;
  int ly = area.y + 10;
  cv::putText(img, "class id", {lx, ly}, kFont, 0.5, kBlack, 1, cv::LINE_AA);
  ly += 26;
  for (const auto& [id, index] : colour_of) {
    draw_diamond(img, {lx + 8, ly - 5}, 7, class_colour(index));
    const int n = examples_of.count(id) ? examples_of[id] : 0;
    const std::string text =
        std::to_string(id) + (n ? " (" + std::to_string(n) + (n == 1 ? " example)" : " examples)") : "");
    cv::putText(img, text, {lx + 24, ly}, kFont, 0.5, kBlack, 1, cv::LINE_AA);
    ly += 24;
    if (ly > area.y + area.height - 60) break;
  }
  ly += 14;
  draw_diamond(img, {lx + 8, ly - 5}, 7, cv::Scalar(200, 200, 200));
  cv::putText(img, "prototype", {lx + 24, ly}, kFont, 0.45, kBlack, 1, cv::LINE_AA);
  ly += 22;
  draw_example(img, {lx + 8, ly - 5}, kAxis);
  cv::putText(img, "example", {lx + 24, ly}, kFont, 0.45, kBlack, 1, cv::LINE_AA);

  std::vector<unsigned char> encoded;
  if (!cv::imencode(".png", img, encoded)) throw InputError(png.string(), "PNG encoding failed");
  write_file_atomic(png, std::as_bytes(std::span(encoded.data(), encoded.size())));
  return plot;
}

}  // namespace medport::pipelines::fewshot
