#include "medport/pipelines/fewshot/preprocessing.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "medport/error.hpp"
#include "medport/imaging/resample.hpp"
#include "medport/imaging/zoom.hpp"

namespace medport::pipelines::fewshot {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

bool spline(const PreprocessingSettings& s) { return s.resize == "spline"; }

// One resize of a spatial array; identity when the shape does not change.
std::vector<double> resize(std::vector<double> values, const Shape& shape, const Shape& new_shape, int order,
                           const PreprocessingSettings& s, bool round_to_float) {
  if (shape == new_shape) return values;
  auto out = spline(s) ? imaging::zoom(values, shape, new_shape, order) : imaging::resize_edge(values, shape, new_shape, order);
  if (round_to_float && spline(s))  // scipy's zoom returns the input's dtype: float32 for images
    for (auto& v : out) v = static_cast<double>(static_cast<float>(v));
  return out;
}

// Steps 1 and 2 for one spatial array (order 3 / linear for images, 0 for masks).
std::vector<double> to_volume(std::vector<double> values, const Shape& spatial, std::span<const double> spacing,
                              const Shape& volume_shape, const PreprocessingSettings& s, bool is_image) {
  const int order = is_image ? (spline(s) ? 3 : 1) : 0;
  Shape shape = spatial;
  if (!s.target_spacing.empty()) {
    if (s.target_spacing.size() != spatial.size())
      throw InputError("", "target spacing has " + std::to_string(s.target_spacing.size()) + " values but the image has " +
                               std::to_string(spatial.size()) + " axes");
    std::vector<double> from(spacing.begin(), spacing.end());
    if (from.size() != spatial.size()) from.assign(spatial.size(), 1.0);
    std::vector<double> factors;
    for (std::size_t a = 0; a < spatial.size(); ++a) factors.push_back(from[a] / s.target_spacing[a]);
    const Shape resampled = imaging::zoom_shape(spatial, factors);
    if (shape_numel(resampled) > (std::int64_t{1} << 28))
      throw InputError("", "resampling to the target spacing would give " + shape_string(resampled) + " voxels");
    values = resize(std::move(values), shape, resampled, order, s, is_image);
    shape = resampled;
  }
  // upstream zooms by (D,H,W) / shape, reaching round(n * D / n) = D samples
  if (shape.size() == 3) return resize(std::move(values), shape, volume_shape, order, s, is_image);
  const Shape plane{volume_shape[1], volume_shape[2]};
  auto slice = resize(std::move(values), shape, plane, order, s, is_image);
  std::vector<double> out;
  out.reserve(slice.size() * static_cast<std::size_t>(volume_shape[0]));
  for (std::int64_t z = 0; z < volume_shape[0]; ++z) out.insert(out.end(), slice.begin(), slice.end());
  return out;
}

// numpy.percentile, method 'linear', of sorted values.
double percentile(const std::vector<double>& sorted, double q) {
  const double pos = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double t = pos - static_cast<double>(lo);
  return sorted[lo] + t * (sorted[hi] - sorted[lo]);
}

void window(std::vector<double>& v, double low, double high) {
  const double range = high > low ? high - low : 1.0;
  for (auto& x : v) x = (std::clamp(x, low, high) - low) / range;
}

void by_modality(std::vector<double>& v, const PreprocessingSettings& s) {
  const std::string m = upper(s.modality);
  if (m == "CT") {
    const auto [low, high] = s.clip.value_or(std::array<double, 2>{-1024.0, 1024.0});
    window(v, low, high);
  } else if (m == "MRI") {
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    window(v, percentile(sorted, s.percentiles[0]), percentile(sorted, s.percentiles[1]));
  } else if (m == "PET") {
    double mean = 0.0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    double var = 0.0;
    for (double x : v) var += (x - mean) * (x - mean);
    double sd = std::sqrt(var / static_cast<double>(v.size()));
    if (sd == 0.0) sd = 1.0;
    for (auto& x : v) x = (x - mean) / sd;
  } else {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const double low = *lo, high = *hi;
    for (auto& x : v) x = high > low ? (x - low) / (high - low) : 0.0;
  }
}

// medport's earlier normalizations (resize "linear" path).
void zscore(std::vector<double>& v) {
  double mean = 0.0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double var = 0.0;
  for (double x : v) var += (x - mean) * (x - mean);
  const double sd = std::sqrt(var / static_cast<double>(v.size()));
  const double scale = sd > 1e-8 ? 1.0 / sd : 1.0;
  for (auto& x : v) x = (x - mean) * scale;
}

void minmax(std::vector<double>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double low = *lo, range = *hi - *lo + 1e-8;
  for (auto& x : v) x = (x - low) / range;
}

void normalize_doubles(std::vector<double>& v, const PreprocessingSettings& s) {
  if (v.empty() || s.normalize == "none") return;
  if (s.normalize == "modality") by_modality(v, s);
  else if (s.normalize == "zscore") zscore(v);
  else if (s.normalize == "minmax") minmax(v);
  else throw UsageError("normalize '" + s.normalize + "' is not one of modality, zscore, minmax, none");
}

}  // namespace

std::string canonical_modality(const std::string& name) {
  const std::string m = upper(name);
  if (m == "CT" || m == "MRI" || m == "PET") return m;
  if (m == "OTHER") return "other";
  throw UsageError("modality '" + name + "' is not one of CT, MRI, PET, other");
}

void validate(const PreprocessingSettings& s) {
  if (s.resize != "spline" && s.resize != "linear") throw UsageError("resize '" + s.resize + "' is not one of spline, linear");
  static const std::vector<std::string> normalizations{"modality", "zscore", "minmax", "none"};
  if (std::find(normalizations.begin(), normalizations.end(), s.normalize) == normalizations.end())
    throw UsageError("normalize '" + s.normalize + "' is not one of modality, zscore, minmax, none");
  canonical_modality(s.modality);
  if (s.clip && !((*s.clip)[0] < (*s.clip)[1] && std::isfinite((*s.clip)[0]) && std::isfinite((*s.clip)[1])))
    throw UsageError("clip LO,HI needs finite LO < HI");
  const auto& p = s.percentiles;
  if (!(p[0] >= 0.0 && p[0] < p[1] && p[1] <= 100.0)) throw UsageError("percentiles P1,P2 need 0 <= P1 < P2 <= 100");
  if (!s.target_spacing.empty() && s.target_spacing.size() != 2 && s.target_spacing.size() != 3)
    throw UsageError("target spacing takes 2 (2D) or 3 (3D) values");
  for (double v : s.target_spacing)
    if (!(v > 0.0) || !std::isfinite(v)) throw UsageError("target spacing values must be positive");
}

void normalize_volume(std::vector<float>& volume, const PreprocessingSettings& s) {
  std::vector<double> v(volume.begin(), volume.end());
  normalize_doubles(v, s);
  std::copy(v.begin(), v.end(), volume.begin());
}

std::vector<float> image_to_volume(std::span<const float> values, const Shape& spatial, std::span<const double> spacing,
                                   const Shape& volume_shape, const PreprocessingSettings& s) {
  auto volume = to_volume(std::vector<double>(values.begin(), values.end()), spatial, spacing, volume_shape, s, true);
  normalize_doubles(volume, s);
  return {volume.begin(), volume.end()};
}

std::vector<double> mask_to_volume(std::span<const double> values, const Shape& spatial, std::span<const double> spacing,
                                   const Shape& volume_shape, const PreprocessingSettings& s) {
  return to_volume(std::vector<double>(values.begin(), values.end()), spatial, spacing, volume_shape, s, false);
}

std::vector<float> probabilities_to_grid(std::span<const float> probabilities, std::int64_t classes,
                                         const Shape& volume_shape, const Shape& spatial, const PreprocessingSettings& s) {
  const auto per_model = static_cast<std::size_t>(shape_numel(volume_shape));
  const auto plane = static_cast<std::size_t>(volume_shape[1] * volume_shape[2]);
  std::vector<float> out;
  for (std::int64_t k = 0; k < classes; ++k) {
    const float* p = probabilities.data() + static_cast<std::size_t>(k) * per_model;
    std::vector<double> values;
    Shape from;
    if (spatial.size() == 3) {
      values.assign(p, p + per_model);
      from = volume_shape;
    } else {  // 2D: the D slices are copies of one input slice; average what the model made of them
      values.assign(plane, 0.0);
      for (std::int64_t z = 0; z < volume_shape[0]; ++z)
        for (std::size_t i = 0; i < plane; ++i) values[i] += p[static_cast<std::size_t>(z) * plane + i];
      for (auto& v : values) v /= static_cast<double>(volume_shape[0]);
      from = {volume_shape[1], volume_shape[2]};
    }
    if (from != spatial)
      values = spline(s) ? imaging::zoom(values, from, spatial, 1, false) : imaging::resize_edge(values, from, spatial, 1);
    for (double v : values) out.push_back(static_cast<float>(std::clamp(v, 0.0, 1.0)));
  }
  return out;
}

}  // namespace medport::pipelines::fewshot
