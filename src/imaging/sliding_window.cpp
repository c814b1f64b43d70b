#include "medport/imaging/sliding_window.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "medport/error.hpp"
#include "medport/tensor.hpp"
#include "medport/util/numpy_compat.hpp"

namespace medport::imaging {
namespace {

Extent strides_of(std::span<const std::int64_t> shape) {
  Extent strides(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

std::int64_t product(std::span<const std::int64_t> shape) {
  std::int64_t n = 1;
  for (auto extent : shape) n *= extent;
  return n;
}

void check_array(std::span<const float> values, std::span<const std::int64_t> shape, std::size_t trailing,
                 const char* what) {
  if (trailing > shape.size()) {
    throw UsageError(std::string(what) + ": padding has more axes than the array");
  }
  for (auto extent : shape) {
    if (extent < 0) throw UsageError(std::string(what) + ": negative extent in shape");
  }
  if (static_cast<std::int64_t>(values.size()) != product(shape)) {
    throw UsageError(std::string(what) + ": " + std::to_string(values.size()) + " values for shape " +
                     shape_string(Shape(shape.begin(), shape.end())));
  }
}

// Calls visit(index) for every multi-index of `shape`, last axis fastest.
void for_each_index(std::span<const std::int64_t> shape, const std::function<void(const Extent&)>& visit) {
  if (product(shape) == 0) return;
  Extent index(shape.size(), 0);
  while (true) {
    visit(index);
    std::size_t axis = shape.size();
    while (axis > 0) {
      --axis;
      if (++index[axis] < shape[axis]) break;
      index[axis] = 0;
      if (axis == 0) return;
    }
    if (shape.empty()) return;
  }
}

}  // namespace

std::vector<std::vector<std::int64_t>> sliding_window_steps(std::span<const std::int64_t> image_size,
                                                            std::span<const std::int64_t> patch_size,
                                                            double step_size) {
  if (image_size.size() != patch_size.size() || image_size.empty()) {
    throw UsageError("sliding window: image and patch need the same, non-zero number of axes");
  }
  if (!(step_size > 0.0 && step_size <= 1.0)) {
    throw UsageError("sliding window: step size must be in (0, 1], got " + std::to_string(step_size));
  }
  std::vector<std::vector<std::int64_t>> steps;
  for (std::size_t axis = 0; axis < image_size.size(); ++axis) {
    const std::int64_t image = image_size[axis];
    const std::int64_t patch = patch_size[axis];
    if (patch <= 0 || image < patch) {
      throw UsageError("sliding window: axis " + std::to_string(axis) + " of size " + std::to_string(image) +
                       " is smaller than the patch (" + std::to_string(patch) + "); pad it first");
    }
    const double target_step = static_cast<double>(patch) * step_size;
    const auto max_step = static_cast<double>(image - patch);
    const auto count = static_cast<std::int64_t>(std::ceil(max_step / target_step)) + 1;
    const double actual_step = count > 1 ? max_step / static_cast<double>(count - 1) : 0.0;
    std::vector<std::int64_t> origins;
    origins.reserve(static_cast<std::size_t>(count));
    for (std::int64_t k = 0; k < count; ++k) {
      origins.push_back(static_cast<std::int64_t>(round_half_even(actual_step * static_cast<double>(k))));
    }
    steps.push_back(std::move(origins));
  }
  return steps;
}

std::vector<Extent> sliding_window_tile_origins(const std::vector<std::vector<std::int64_t>>& steps) {
  Extent counts;
  for (const auto& axis_steps : steps) counts.push_back(static_cast<std::int64_t>(axis_steps.size()));
  std::vector<Extent> origins;
  if (steps.empty()) return origins;
  for_each_index(counts, [&](const Extent& index) {
    Extent origin(steps.size());
    for (std::size_t axis = 0; axis < steps.size(); ++axis) origin[axis] = steps[axis][static_cast<std::size_t>(index[axis])];
    origins.push_back(std::move(origin));
  });
  return origins;
}

bool Padding::any() const {
  return std::any_of(before.begin(), before.end(), [](auto v) { return v != 0; }) ||
         std::any_of(after.begin(), after.end(), [](auto v) { return v != 0; });
}

Padding padding_to_min_size(std::span<const std::int64_t> size, std::span<const std::int64_t> min_size) {
  if (size.size() != min_size.size()) throw UsageError("padding: size and minimum size differ in rank");
  Padding padding;
  for (std::size_t axis = 0; axis < size.size(); ++axis) {
    if (size[axis] < 0 || min_size[axis] < 0) throw UsageError("padding: negative extent");
    const std::int64_t difference = std::max(size[axis], min_size[axis]) - size[axis];
    padding.before.push_back(difference / 2);
    padding.after.push_back(difference / 2 + difference % 2);
    padding.padded_size.push_back(size[axis] + difference);
  }
  return padding;
}

std::vector<float> pad_array(std::span<const float> values, std::span<const std::int64_t> shape,
                             const Padding& padding, float value) {
  const std::size_t trailing = padding.before.size();
  check_array(values, shape, trailing, "pad_array");
  const std::size_t lead = shape.size() - trailing;
  Extent out_shape(shape.begin(), shape.end());
  for (std::size_t i = 0; i < trailing; ++i) out_shape[lead + i] = shape[lead + i] + padding.before[i] + padding.after[i];
  const Extent out_strides = strides_of(out_shape);
  std::vector<float> out(static_cast<std::size_t>(product(out_shape)), value);
  std::size_t source = 0;
  for_each_index(shape, [&](const Extent& index) {
    std::int64_t offset = 0;
    for (std::size_t axis = 0; axis < shape.size(); ++axis) {
      const std::int64_t shift = axis >= lead ? padding.before[axis - lead] : 0;
      offset += (index[axis] + shift) * out_strides[axis];
    }
    out[static_cast<std::size_t>(offset)] = values[source++];
  });
  return out;
}

std::vector<float> crop_padding(std::span<const float> values, std::span<const std::int64_t> shape,
                                const Padding& padding) {
  const std::size_t trailing = padding.before.size();
  check_array(values, shape, trailing, "crop_padding");
  const std::size_t lead = shape.size() - trailing;
  Extent inner(shape.begin(), shape.end());
  for (std::size_t i = 0; i < trailing; ++i) {
    inner[lead + i] = shape[lead + i] - padding.before[i] - padding.after[i];
    if (inner[lead + i] < 0) throw UsageError("crop_padding: padding larger than the array");
  }
  const Extent strides = strides_of(shape);
  std::vector<float> out;
  out.reserve(static_cast<std::size_t>(product(inner)));
  for_each_index(inner, [&](const Extent& index) {
    std::int64_t offset = 0;
    for (std::size_t axis = 0; axis < shape.size(); ++axis) {
      const std::int64_t shift = axis >= lead ? padding.before[axis - lead] : 0;
      offset += (index[axis] + shift) * strides[axis];
    }
    out.push_back(values[static_cast<std::size_t>(offset)]);
  });
  return out;
}

std::vector<std::vector<int>> mirror_axis_combinations(std::span<const int> allowed_axes) {
  std::vector<std::vector<int>> combinations;
  const std::size_t n = allowed_axes.size();
  for (std::size_t size = 1; size <= n; ++size) {
    // Positions of the chosen axes, advanced like itertools.combinations.
    std::vector<std::size_t> chosen(size);
    for (std::size_t i = 0; i < size; ++i) chosen[i] = i;
    while (true) {
      std::vector<int> axes;
      for (auto position : chosen) axes.push_back(allowed_axes[position]);
      combinations.push_back(std::move(axes));
      std::size_t i = size;
      while (i > 0 && chosen[i - 1] == i - 1 + n - size) --i;
      if (i == 0) break;
      ++chosen[i - 1];
      for (std::size_t j = i; j < size; ++j) chosen[j] = chosen[j - 1] + 1;
    }
  }
  return combinations;
}

std::vector<float> flip_axes(std::span<const float> values, std::span<const std::int64_t> shape,
                             std::span<const int> axes) {
  check_array(values, shape, 0, "flip_axes");
  std::vector<bool> flipped(shape.size(), false);
  for (int axis : axes) {
    if (axis < 0 || static_cast<std::size_t>(axis) >= shape.size()) {
      throw UsageError("flip_axes: axis " + std::to_string(axis) + " out of range");
    }
    flipped[static_cast<std::size_t>(axis)] = true;
  }
  const Extent strides = strides_of(shape);
  std::vector<float> out(values.size());
  std::size_t target = 0;
  for_each_index(shape, [&](const Extent& index) {
    std::int64_t offset = 0;
    for (std::size_t axis = 0; axis < shape.size(); ++axis) {
      const std::int64_t i = flipped[axis] ? shape[axis] - 1 - index[axis] : index[axis];
      offset += i * strides[axis];
    }
    out[target++] = values[static_cast<std::size_t>(offset)];
  });
  return out;
}

}  // namespace medport::imaging
