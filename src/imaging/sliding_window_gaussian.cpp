// The Gaussian importance map, computed the way nnU-Net's compute_gaussian does with numpy,
// scipy and torch, so the float16 values match bit for bit.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "medport/util/numpy_compat.hpp"
#include "medport/error.hpp"
#include "medport/imaging/sliding_window.hpp"

namespace medport::imaging {
namespace {

// scipy.ndimage's 1-D Gaussian kernel (order 0): radius int(truncate * sigma + 0.5),
// exp(-0.5 / sigma^2 * x^2) normalised by its sum.
std::vector<double> scipy_gaussian_kernel(double sigma, double truncate) {
  const auto radius = static_cast<std::int64_t>(truncate * sigma + 0.5);
  const double factor = -0.5 / (sigma * sigma);
  std::vector<double> kernel;
  kernel.reserve(static_cast<std::size_t>(2 * radius + 1));
  for (std::int64_t x = -radius; x <= radius; ++x) {
    kernel.push_back(std::exp(factor * static_cast<double>(x * x)));
  }
  const double sum = 0.0 + numpy_pairwise_sum(kernel.data(), kernel.size());
  for (auto& weight : kernel) weight = weight / sum;
  return kernel;
}

}  // namespace

double round_to_float16(double value) {
  if (std::isnan(value) || std::isinf(value) || value == 0.0) return value;
  const double magnitude = std::fabs(value);
  // Spacing of float16 values around `magnitude`: 2^(e-10) for normals, 2^-24 for subnormals.
  const int exponent = std::max(std::ilogb(magnitude), -14);
  const double quantum = std::ldexp(1.0, exponent - 10);
  const double scaled = magnitude / quantum;  // exact: division by a power of two
  double units = std::floor(scaled);
  const double rest = scaled - units;
  if (rest > 0.5 || (rest == 0.5 && std::fmod(units, 2.0) != 0.0)) units += 1.0;
  double rounded = units * quantum;
  if (rounded > 65504.0) rounded = std::numeric_limits<double>::infinity();
  return std::copysign(rounded, value);
}

std::vector<float> gaussian_importance_map(std::span<const std::int64_t> patch_size, GaussianPrecision precision,
                                           double sigma_scale, double value_scaling) {
  if (patch_size.empty()) throw UsageError("gaussian importance map: empty patch size");
  std::int64_t total = 1;
  for (auto extent : patch_size) {
    if (extent <= 0 || extent > 4096) {
      throw UsageError("gaussian importance map: patch extent " + std::to_string(extent) + " out of range");
    }
    total *= extent;
    if (total > (std::int64_t{1} << 28)) throw UsageError("gaussian importance map: patch too large");
  }
  if (!(sigma_scale > 0.0) || !(value_scaling > 0.0)) {
    throw UsageError("gaussian importance map: sigma scale and value scaling must be positive");
  }

  // The filtered impulse is separable and exact: every output value is the product of one
  // kernel weight per axis, multiplied in axis order (each scipy pass adds only zeros).
  std::vector<double> map{1.0};
  for (auto extent : patch_size) {
    const double sigma = static_cast<double>(extent) * sigma_scale;
    const std::int64_t centre = extent / 2;
    std::vector<double> weights(static_cast<std::size_t>(extent), 0.0);
    if (sigma > 1e-15) {
      const auto kernel = scipy_gaussian_kernel(sigma, 4.0);
      const auto radius = static_cast<std::int64_t>(kernel.size() / 2);
      for (std::int64_t i = 0; i < extent; ++i) {
        const std::int64_t offset = i - centre;
        if (offset >= -radius && offset <= radius) weights[static_cast<std::size_t>(i)] = kernel[static_cast<std::size_t>(offset + radius)];
      }
    } else {
      weights[static_cast<std::size_t>(centre)] = 1.0;  // scipy skips axes with sigma <= 1e-15
    }
    std::vector<double> next;
    next.reserve(map.size() * weights.size());
    for (double value : map) {
      for (double weight : weights) next.push_back(value * weight);
    }
    map = std::move(next);
  }

  const double peak = *std::max_element(map.begin(), map.end());
  std::vector<float> result(map.size());
  float smallest_nonzero = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < map.size(); ++i) {
    const double scaled = map[i] / peak * value_scaling;
    result[i] = precision == GaussianPrecision::Float16 ? static_cast<float>(round_to_float16(scaled))
                                                        : static_cast<float>(scaled);
    if (result[i] != 0.0F) smallest_nonzero = std::min(smallest_nonzero, result[i]);
  }
  for (auto& value : result) {
    if (value == 0.0F) value = smallest_nonzero;
  }
  return result;
}

}  // namespace medport::imaging
