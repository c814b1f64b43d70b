#pragma once
// A small owning container for 2D/3D label maps (segmentations, binary masks), row-major,
// with the physical pixel/voxel spacing in mm along each axis (same order as the shape).
#include <cstdint>
#include <string>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::imaging {

struct LabelImage {
  std::vector<std::int64_t> shape;    // 2 or 3 axes, e.g. (rows, cols) or (depth, rows, cols)
  std::vector<double> spacing;        // mm per axis; empty means 1 mm everywhere
  std::vector<std::uint8_t> labels;   // shape_numel(shape) values

  LabelImage() = default;
  // Zero-filled image; throws InputError for non-positive axes or more than 3 axes.
  explicit LabelImage(std::vector<std::int64_t> shape_, std::vector<double> spacing_ = {});

  std::size_t ndim() const { return shape.size(); }
  std::int64_t numel() const;
  // Spacing of `axis` (1.0 when none was given).
  double spacing_at(std::size_t axis) const;

  std::uint8_t& at(std::int64_t r, std::int64_t c) { return labels[static_cast<std::size_t>(r * shape[1] + c)]; }
  std::uint8_t at(std::int64_t r, std::int64_t c) const { return labels[static_cast<std::size_t>(r * shape[1] + c)]; }
  std::uint8_t& at(std::int64_t z, std::int64_t r, std::int64_t c) {
    return labels[static_cast<std::size_t>((z * shape[1] + r) * shape[2] + c)];
  }

  // Checks the invariants (2-3 positive axes, labels size, spacing size and values > 0);
  // throws InputError naming `source`.
  void validate(const std::string& source) const;
};

// Copies a tensor (uint8, bool or integer dtype with values in 0..255) into a LabelImage.
// Throws InputError naming `source` for other dtypes, out-of-range values or bad ranks.
LabelImage label_image_from_tensor(const Tensor& tensor, const std::string& source,
                                   std::vector<double> spacing = {});

// 1 where labels == label, else 0 (same shape and spacing).
LabelImage binary_mask(const LabelImage& image, std::uint8_t label);

}  // namespace medport::imaging
