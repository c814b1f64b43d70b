#include "medport/metrics/distance_transform.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "medport/error.hpp"

namespace medport::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One 1-D pass: out[q] = min_p ((q - p) * step)^2 + f[p] over the sites with finite f,
// through the lower envelope of the parabolas rooted at those sites.
class EnvelopePass {
 public:
  explicit EnvelopePass(std::size_t n) : sites_(n), bounds_(n + 1), f_(n) {}

  void run(double* values, std::size_t n, std::ptrdiff_t stride, double step) {
    const double weight = step * step;
    for (std::size_t i = 0; i < n; ++i) f_[i] = values[static_cast<std::ptrdiff_t>(i) * stride];
    std::ptrdiff_t k = -1;
    for (std::size_t q = 0; q < n; ++q) {
      if (f_[q] == kInf) continue;
      const double fq = f_[q] + weight * static_cast<double>(q) * static_cast<double>(q);
      double boundary = -kInf;
      while (k >= 0) {
        const std::size_t v = sites_[static_cast<std::size_t>(k)];
        const double fv = f_[v] + weight * static_cast<double>(v) * static_cast<double>(v);
        boundary = (fq - fv) / (2.0 * weight * static_cast<double>(q - v));
        if (boundary > bounds_[static_cast<std::size_t>(k)]) break;
        --k;
      }
      if (k < 0) boundary = -kInf;
      ++k;
      sites_[static_cast<std::size_t>(k)] = q;
      bounds_[static_cast<std::size_t>(k)] = boundary;
      bounds_[static_cast<std::size_t>(k) + 1] = kInf;
    }
    if (k < 0) return;  // no finite site on this line: stays +inf
    std::size_t j = 0;
    for (std::size_t q = 0; q < n; ++q) {
      while (bounds_[j + 1] < static_cast<double>(q)) ++j;
      const std::size_t v = sites_[j];
      // (delta * step)^2 + f, the operation order scipy's edt uses for the final distances.
      const double delta = (static_cast<double>(q) - static_cast<double>(v)) * step;
      values[static_cast<std::ptrdiff_t>(q) * stride] = delta * delta + f_[v];
    }
  }

 private:
  std::vector<std::size_t> sites_;
  std::vector<double> bounds_;
  std::vector<double> f_;
};

}  // namespace

std::vector<double> distance_to_nearest_feature(std::span<const std::uint8_t> features,
                                                std::span<const std::int64_t> shape,
                                                std::span<const double> spacing) {
  if (shape.empty() || shape.size() > 3) throw InputError("distance transform", "needs 1 to 3 axes");
  if (!spacing.empty() && spacing.size() != shape.size()) {
    throw InputError("distance transform", "spacing and shape differ in rank");
  }
  std::int64_t total = 1;
  for (auto extent : shape) {
    if (extent <= 0) throw InputError("distance transform", "axes must be positive");
    total *= extent;
  }
  if (static_cast<std::int64_t>(features.size()) != total) {
    throw InputError("distance transform", "feature count does not match the shape");
  }
  for (double s : spacing) {
    if (!(s > 0.0) || !std::isfinite(s)) throw InputError("distance transform", "spacing must be finite and > 0");
  }

  std::vector<double> squared(features.size());
  for (std::size_t i = 0; i < features.size(); ++i) squared[i] = features[i] != 0 ? 0.0 : kInf;

  const std::size_t ndim = shape.size();
  std::vector<std::ptrdiff_t> strides(ndim, 1);
  for (std::size_t a = ndim; a-- > 1;) strides[a - 1] = strides[a] * static_cast<std::ptrdiff_t>(shape[a]);

  // Axis 0 first, so the per-axis squared terms are summed in the same order as scipy's.
  for (std::size_t axis = 0; axis < ndim; ++axis) {
    const auto n = static_cast<std::size_t>(shape[axis]);
    const double step = spacing.empty() ? 1.0 : spacing[axis];
    EnvelopePass pass(n);
    const std::ptrdiff_t stride = strides[axis];
    const auto lines = static_cast<std::size_t>(total) / n;
    for (std::size_t line = 0; line < lines; ++line) {
      // Start of the line-th line along `axis`: split its index into the other axes.
      std::size_t rest = line;
      std::ptrdiff_t offset = 0;
      for (std::size_t a = ndim; a-- > 0;) {
        if (a == axis) continue;
        const auto extent = static_cast<std::size_t>(shape[a]);
        offset += static_cast<std::ptrdiff_t>(rest % extent) * strides[a];
        rest /= extent;
      }
      pass.run(squared.data() + offset, n, stride, step);
    }
  }
  for (auto& value : squared) value = std::sqrt(value);
  return squared;
}

std::vector<double> euclidean_distance_transform(const imaging::LabelImage& image) {
  image.validate("distance transform");
  std::vector<std::uint8_t> background(image.labels.size());
  for (std::size_t i = 0; i < background.size(); ++i) background[i] = image.labels[i] == 0 ? 1 : 0;
  return distance_to_nearest_feature(background, image.shape, image.spacing);
}

}  // namespace medport::metrics
