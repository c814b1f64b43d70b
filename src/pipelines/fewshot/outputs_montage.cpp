// A grid of evenly spaced slices with the labels coloured in, for checking a few-shot result at
// a glance.
#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medport/error.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"
#include "medport/pipelines/segment/overlay.hpp"

namespace medport::pipelines::fewshot {
namespace {

const cv::Scalar kBackground(28, 28, 28);
const cv::Scalar kText(235, 235, 235);
const cv::Scalar kDimText(170, 170, 170);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

cv::Scalar bgr(int label) {
  const auto c = segment::label_colour(label);
  return cv::Scalar(c[2], c[1], c[0]);
}

// 1st and 99th percentiles of the finite values: a window robust to a few extreme voxels.
std::pair<float, float> intensity_window(std::span<const float> image) {
  std::vector<float> finite;
  finite.reserve(image.size());
  for (float v : image)
    if (std::isfinite(v)) finite.push_back(v);
  if (finite.empty()) return {0.0F, 1.0F};
  auto at = [&](double q) {
    const auto k = static_cast<std::size_t>(q * static_cast<double>(finite.size() - 1));
    std::nth_element(finite.begin(), finite.begin() + static_cast<std::ptrdiff_t>(k), finite.end());
    return finite[k];
  };
  float lo = at(0.01), hi = at(0.99);
  if (!(hi > lo)) {
    lo = *std::min_element(finite.begin(), finite.end());
    hi = *std::max_element(finite.begin(), finite.end());
  }
  return {lo, hi > lo ? hi : lo + 1.0F};
}

cv::Mat render_tile(std::span<const float> image, std::span<const std::uint8_t> labels, const Grid& grid,
                    std::int64_t z, std::pair<float, float> window, const std::vector<std::int64_t>& values,
                    const MontageOptions& options) {
  const int h = static_cast<int>(grid.height), w = static_cast<int>(grid.width);
  const std::size_t offset = static_cast<std::size_t>(z) * static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
  cv::Mat grey(h, w, CV_8UC1), label_mat(h, w, CV_8UC1);
  const float scale = 255.0F / (window.second - window.first);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      const std::size_t i = offset + static_cast<std::size_t>(r) * static_cast<std::size_t>(w) + static_cast<std::size_t>(c);
      const float v = image[i];
      grey.at<std::uint8_t>(r, c) = std::isfinite(v) ? cv::saturate_cast<std::uint8_t>((v - window.first) * scale) : 0;
      label_mat.at<std::uint8_t>(r, c) = labels[i];
    }
  const double tall = h * options.pixel_aspect;  // physical height in column-spacing units
  const double factor = static_cast<double>(options.tile_size) / std::max(tall, static_cast<double>(w));
  const cv::Size size(std::max(1, static_cast<int>(std::lround(w * factor))), std::max(1, static_cast<int>(std::lround(tall * factor))));
  cv::resize(grey, grey, size, 0, 0, factor >= 1.0 ? cv::INTER_CUBIC : cv::INTER_AREA);
  cv::resize(label_mat, label_mat, size, 0, 0, cv::INTER_NEAREST);
  cv::Mat base, tile;
  cv::cvtColor(grey, base, cv::COLOR_GRAY2BGR);
  tile = base.clone();
  for (auto v : values) {
    const cv::Mat mask = label_mat == static_cast<int>(v);
    if (cv::countNonZero(mask) == 0) continue;
    cv::Mat colour(base.size(), CV_8UC3, bgr(static_cast<int>(v))), blended;
    cv::addWeighted(base, 1.0 - options.alpha, colour, options.alpha, 0.0, blended);
    blended.copyTo(tile, mask);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_LIST, cv::CHAIN_APPROX_NONE);
    cv::drawContours(tile, contours, -1, bgr(static_cast<int>(v)), 1, cv::LINE_AA);
  }
  if (grid.depth == 1) return tile;  // a 2D image: no slice index to show
  // Caption: slice index in a dark box at the top left.
  const std::string caption = "z " + std::to_string(z) + "/" + std::to_string(grid.depth - 1);
  int baseline = 0;
  const auto text = cv::getTextSize(caption, kFont, 0.45, 1, &baseline);
  cv::Mat box = tile(cv::Rect(0, 0, std::min(tile.cols, text.width + 8), std::min(tile.rows, text.height + baseline + 6)));
  box *= 0.35;
  cv::putText(tile, caption, cv::Point(4, text.height + 3), kFont, 0.45, kText, 1, cv::LINE_AA);
  return tile;
}

}  // namespace

std::vector<std::int64_t> montage_slices(std::int64_t depth, int count) {
  if (depth <= 0 || count <= 0) return {};
  const std::int64_t n = std::min<std::int64_t>(depth, count);
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto z = static_cast<std::int64_t>(std::floor((static_cast<double>(i) + 0.5) * static_cast<double>(depth) /
                                                        static_cast<double>(n)));
    out.push_back(std::min(z, depth - 1));
  }
  return out;
}

std::vector<std::byte> render_montage_png(std::span<const float> image, std::span<const std::uint8_t> labels,
                                          const Grid& grid, const std::vector<std::string>& names,
                                          const std::vector<std::string>& legend_notes,
                                          std::span<const std::int64_t> label_values, const MontageOptions& options) {
  if (grid.depth <= 0 || grid.height <= 0 || grid.width <= 0 || grid.height > 16384 || grid.width > 16384 ||
      image.size() != grid.voxels() || labels.size() != grid.voxels())
    throw UsageError("montage: image and labels must both cover the grid");
  if (options.tile_size < 32 || options.tile_size > 2048) throw UsageError("montage: tile size must lie in 32..2048");
  if (!(options.pixel_aspect >= 0.1 && options.pixel_aspect <= 10.0)) throw UsageError("montage: pixel aspect must lie in 0.1..10");
  std::vector<std::int64_t> values(label_values.begin(), label_values.end());
  if (values.empty())
    for (std::size_t i = 0; i < names.size(); ++i) values.push_back(static_cast<std::int64_t>(i) + 1);

  const auto slices = montage_slices(grid.depth, options.slices);
  const auto window = intensity_window(image);
  std::vector<cv::Mat> tiles;
  for (auto z : slices) tiles.push_back(render_tile(image, labels, grid, z, window, values, options));

  const int n = static_cast<int>(tiles.size());
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int rows = (n + columns - 1) / columns;
  const int gap = 6, tile_w = tiles[0].cols, tile_h = tiles[0].rows;
  const int width = std::max(columns * tile_w + (columns + 1) * gap, 360);
  const int header = options.title.empty() ? gap : 30;

  // Legend entries: swatch, name, note; laid out in as many columns as fit.
  std::vector<std::string> entries;
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string e = i < names.size() && !names[i].empty() ? names[i] : "label " + std::to_string(values[i]);
    if (i < legend_notes.size() && !legend_notes[i].empty()) e += "  " + legend_notes[i];
    entries.push_back(e);
  }
  int entry_w = 120;
  for (const auto& e : entries) {
    int baseline = 0;
    entry_w = std::max(entry_w, cv::getTextSize(e, kFont, 0.45, 1, &baseline).width + 34);
  }
  const int legend_columns = std::max(1, std::min<int>(static_cast<int>(entries.size()), (width - gap) / entry_w));
  const int legend_rows = entries.empty() ? 0 : (static_cast<int>(entries.size()) + legend_columns - 1) / legend_columns;
  const int line = 22;
  const int legend_h = legend_rows * line + (legend_rows ? 2 * gap : 0);

  cv::Mat out(header + rows * (tile_h + gap) + legend_h, width, CV_8UC3, kBackground);
  if (!options.title.empty())
    cv::putText(out, options.title, cv::Point(gap + 2, 20), kFont, 0.55, kText, 1, cv::LINE_AA);
  const int x0 = (width - (columns * tile_w + (columns - 1) * gap)) / 2;
  for (int i = 0; i < n; ++i) {
    const int x = x0 + (i % columns) * (tile_w + gap), y = header + (i / columns) * (tile_h + gap);
    tiles[static_cast<std::size_t>(i)].copyTo(out(cv::Rect(x, y, tile_w, tile_h)));
  }
  const int legend_y = header + rows * (tile_h + gap) + gap / 2;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int col = static_cast<int>(i) % legend_columns, row = static_cast<int>(i) / legend_columns;
    const int x = gap + col * entry_w, y = legend_y + row * line;
    cv::rectangle(out, cv::Rect(x, y + 4, 14, 14), bgr(static_cast<int>(values[i])), cv::FILLED);
    cv::putText(out, entries[i], cv::Point(x + 22, y + 16), kFont, 0.45, kDimText, 1, cv::LINE_AA);
  }
  std::vector<std::uint8_t> png;
  if (!cv::imencode(".png", out, png)) throw std::runtime_error("OpenCV could not encode the montage PNG");
  std::vector<std::byte> bytes(png.size());
  std::transform(png.begin(), png.end(), bytes.begin(), [](std::uint8_t b) { return std::byte{b}; });
  return bytes;
}

}  // namespace medport::pipelines::fewshot
