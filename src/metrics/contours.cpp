#include "medport/metrics/contours.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include "medport/error.hpp"
#include "medport/tensor.hpp"
#include "medport/util/numpy_compat.hpp"

namespace medport::metrics {
namespace {

struct PointHash {
  std::size_t operator()(const ContourPoint& p) const {
    // +0.0 turns -0.0 into 0.0 so equal points hash alike.
    const auto a = std::bit_cast<std::uint64_t>(p.row + 0.0);
    const auto b = std::bit_cast<std::uint64_t>(p.col + 0.0);
    return std::hash<std::uint64_t>{}(a * 0x9E3779B97F4A7C15ULL ^ b);
  }
};

using Segment = std::pair<ContourPoint, ContourPoint>;

double crossing_fraction(double from, double to, double level) {
  if (to == from) return 0.0;
  return (level - from) / (to - from);
}

// Marching squares over every 2x2 square, emitting oriented segments in skimage's order.
std::vector<Segment> contour_segments(std::span<const double> v, std::int64_t rows, std::int64_t cols, double level) {
  std::vector<Segment> segments;
  for (std::int64_t r0 = 0; r0 + 1 < rows; ++r0) {
    for (std::int64_t c0 = 0; c0 + 1 < cols; ++c0) {
      const std::int64_t r1 = r0 + 1;
      const std::int64_t c1 = c0 + 1;
      const double ul = v[static_cast<std::size_t>(r0 * cols + c0)];
      const double ur = v[static_cast<std::size_t>(r0 * cols + c1)];
      const double ll = v[static_cast<std::size_t>(r1 * cols + c0)];
      const double lr = v[static_cast<std::size_t>(r1 * cols + c1)];
      if (std::isnan(ul) || std::isnan(ur) || std::isnan(ll) || std::isnan(lr)) continue;
      int square = 0;
      if (ul > level) square += 1;
      if (ur > level) square += 2;
      if (ll > level) square += 4;
      if (lr > level) square += 8;
      if (square == 0 || square == 15) continue;
      const auto rr0 = static_cast<double>(r0);
      const auto rr1 = static_cast<double>(r1);
      const auto cc0 = static_cast<double>(c0);
      const auto cc1 = static_cast<double>(c1);
      const ContourPoint top{rr0, cc0 + crossing_fraction(ul, ur, level)};
      const ContourPoint bottom{rr1, cc0 + crossing_fraction(ll, lr, level)};
      const ContourPoint left{rr0 + crossing_fraction(ul, ll, level), cc0};
      const ContourPoint right{rr0 + crossing_fraction(ur, lr, level), cc1};
      switch (square) {
        case 1: segments.push_back({top, left}); break;
        case 2: segments.push_back({right, top}); break;
        case 3: segments.push_back({right, left}); break;
        case 4: segments.push_back({left, bottom}); break;
        case 5: segments.push_back({top, bottom}); break;
        case 6:  // saddle, low values connected
          segments.push_back({right, top});
          segments.push_back({left, bottom});
          break;
        case 7: segments.push_back({right, bottom}); break;
        case 8: segments.push_back({bottom, right}); break;
        case 9:  // saddle, low values connected
          segments.push_back({top, left});
          segments.push_back({bottom, right});
          break;
        case 10: segments.push_back({bottom, top}); break;
        case 11: segments.push_back({bottom, left}); break;
        case 12: segments.push_back({left, right}); break;
        case 13: segments.push_back({top, right}); break;
        case 14: segments.push_back({left, top}); break;
        default: break;
      }
    }
  }
  return segments;
}

// Joins oriented segments into polylines exactly like skimage's _assemble_contours: contours
// are numbered by creation; when two meet, the younger one is merged into the older one.
std::vector<Contour> assemble_contours(const std::vector<Segment>& segments) {
  int next_id = 0;
  std::map<int, std::deque<ContourPoint>> contours;
  std::unordered_map<ContourPoint, int, PointHash> starts;
  std::unordered_map<ContourPoint, int, PointHash> ends;
  auto take = [](std::unordered_map<ContourPoint, int, PointHash>& table, const ContourPoint& key) {
    const auto it = table.find(key);
    if (it == table.end()) return -1;
    const int id = it->second;
    table.erase(it);
    return id;
  };
  for (const auto& [from, to] : segments) {
    if (from == to) continue;  // degenerate: a corner exactly at the level
    const int tail_id = take(starts, to);
    const int head_id = take(ends, from);
    if (tail_id >= 0 && head_id >= 0) {
      if (tail_id == head_id) {
        contours[head_id].push_back(to);  // closes the loop
      } else if (tail_id > head_id) {
        auto& head = contours[head_id];
        auto& tail = contours[tail_id];
        head.insert(head.end(), tail.begin(), tail.end());
        contours.erase(tail_id);
        starts[head.front()] = head_id;
        ends[head.back()] = head_id;
      } else {
        auto& head = contours[head_id];
        auto& tail = contours[tail_id];
        tail.insert(tail.begin(), head.begin(), head.end());
        starts.erase(head.front());
        contours.erase(head_id);
        starts[tail.front()] = tail_id;
        ends[tail.back()] = tail_id;
      }
    } else if (tail_id < 0 && head_id < 0) {
      contours[next_id] = std::deque<ContourPoint>{from, to};
      starts[from] = next_id;
      ends[to] = next_id;
      ++next_id;
    } else if (head_id < 0) {
      auto& tail = contours[tail_id];
      tail.push_front(from);
      starts[from] = tail_id;
    } else {
      auto& head = contours[head_id];
      head.push_back(to);
      ends[to] = head_id;
    }
  }
  std::vector<Contour> result;
  result.reserve(contours.size());
  for (auto& [id, points] : contours) result.emplace_back(points.begin(), points.end());
  return result;
}

// Pillow's ImagingScaleAffine column/row table: source index per output index, -1 outside.
std::vector<std::int64_t> nearest_table(std::int64_t in_size, std::int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  double position = scale * 0.5;
  std::vector<std::int64_t> table(static_cast<std::size_t>(out_size));
  for (auto& index : table) {
    const std::int64_t source = position < 0.0 ? -1 : static_cast<std::int64_t>(position);
    index = source < in_size ? source : -1;
    position += scale;
  }
  return table;
}

}  // namespace

std::vector<Contour> find_contours(std::span<const double> values, std::int64_t rows, std::int64_t cols,
                                   double level) {
  if (rows < 2 || cols < 2) throw InputError("find_contours", "the image must be at least 2x2");
  if (static_cast<std::int64_t>(values.size()) / rows != cols || static_cast<std::int64_t>(values.size()) % rows != 0) {
    throw InputError("find_contours", "value count does not match the image size");
  }
  return assemble_contours(contour_segments(values, rows, cols, level));
}

std::vector<Contour> find_contours(const imaging::LabelImage& image, double level) {
  image.validate("find_contours");
  if (image.ndim() != 2) throw InputError("find_contours", "needs a 2D image");
  std::vector<double> values(image.labels.begin(), image.labels.end());
  return find_contours(values, image.shape[0], image.shape[1], level);
}

imaging::LabelImage resize_nearest_pil(const imaging::LabelImage& image, std::int64_t new_rows,
                                       std::int64_t new_cols) {
  image.validate("resize");
  if (image.ndim() != 2) throw InputError("resize", "needs a 2D image");
  if (new_rows <= 0 || new_cols <= 0 || new_rows > (1 << 16) || new_cols > (1 << 16) ||
      new_rows * new_cols > (std::int64_t{1} << 28)) {
    throw InputError("resize", "target size " + std::to_string(new_rows) + "x" + std::to_string(new_cols) +
                                   " out of range");
  }
  std::vector<double> spacing;
  if (!image.spacing.empty()) {
    spacing = {image.spacing[0] * static_cast<double>(image.shape[0]) / static_cast<double>(new_rows),
               image.spacing[1] * static_cast<double>(image.shape[1]) / static_cast<double>(new_cols)};
  }
  imaging::LabelImage out({new_rows, new_cols}, spacing);
  const auto row_table = nearest_table(image.shape[0], new_rows);
  const auto col_table = nearest_table(image.shape[1], new_cols);
  for (std::int64_t r = 0; r < new_rows; ++r) {
    const std::int64_t source_row = row_table[static_cast<std::size_t>(r)];
    if (source_row < 0) continue;
    for (std::int64_t c = 0; c < new_cols; ++c) {
      const std::int64_t source_col = col_table[static_cast<std::size_t>(c)];
      if (source_col >= 0) out.at(r, c) = image.at(source_row, source_col);
    }
  }
  return out;
}

std::pair<imaging::LabelImage, double> resize_to_isotropic(const imaging::LabelImage& image) {
  image.validate("resize_to_isotropic");
  if (image.ndim() != 2) throw InputError("resize_to_isotropic", "needs a 2D image");
  const double row_spacing = image.spacing_at(0);
  const double col_spacing = image.spacing_at(1);
  const double iso = std::min(row_spacing, col_spacing);
  const auto rows = static_cast<std::int64_t>(round_half_even(static_cast<double>(image.shape[0]) * (row_spacing / iso)));
  const auto cols = static_cast<std::int64_t>(round_half_even(static_cast<double>(image.shape[1]) * (col_spacing / iso)));
  auto resized = resize_nearest_pil(image, rows, cols);
  resized.spacing = {iso, iso};
  return {std::move(resized), iso};
}

}  // namespace medport::metrics
