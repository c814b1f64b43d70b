// crop_to_nonzero (nnunetv2/preprocessing/cropping/cropping.py) with scipy's binary_fill_holes and
// acvl_utils' get_bbox_from_mask, plus the spatial transpose nnU-Net applies before it.
#include <algorithm>
#include <numeric>

#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"

namespace medport::imaging::nnunet {
namespace {

Shape strides_of(const Shape& shape) { return contiguous_strides(shape); }

}  // namespace

std::vector<float> transpose_spatial(std::span<const float> data, const Shape& shape, std::span<const int> perm,
                                     Shape* out_shape) {
  const std::size_t nd = shape.size() - 1;
  if (shape.size() < 2 || perm.size() != nd)
    throw UsageError("transpose: permutation of " + std::to_string(perm.size()) + " axes for data " + shape_string(shape));
  std::vector<bool> seen(nd, false);
  for (int p : perm) {
    if (p < 0 || static_cast<std::size_t>(p) >= nd || seen[static_cast<std::size_t>(p)])
      throw UsageError("transpose: invalid permutation for data " + shape_string(shape));
    seen[static_cast<std::size_t>(p)] = true;
  }
  Shape result{shape[0]};
  for (int p : perm) result.push_back(shape[static_cast<std::size_t>(p) + 1]);
  if (out_shape) *out_shape = result;
  const Shape in_strides = strides_of(shape);
  std::vector<float> out(data.size());
  const std::int64_t n = shape_numel(result);
  std::vector<std::int64_t> idx(result.size(), 0);
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t src = idx[0] * in_strides[0];
    for (std::size_t a = 0; a < nd; ++a) src += idx[a + 1] * in_strides[static_cast<std::size_t>(perm[a]) + 1];
    out[static_cast<std::size_t>(i)] = data[static_cast<std::size_t>(src)];
    for (std::size_t a = result.size(); a-- > 0;) {
      if (++idx[a] < result[a]) break;
      idx[a] = 0;
    }
  }
  return out;
}

// Background reachable from outside the array through face-connected background voxels stays
// background (scipy dilates from a border value of 1); every other voxel becomes foreground.
std::vector<std::uint8_t> binary_fill_holes(std::span<const std::uint8_t> mask, const Shape& shape) {
  const auto n = static_cast<std::size_t>(shape_numel(shape));
  if (mask.size() != n) throw UsageError("binary_fill_holes: mask size does not match " + shape_string(shape));
  const Shape strides = strides_of(shape);
  std::vector<std::uint8_t> outside(n, 0);
  std::vector<std::size_t> stack;
  std::vector<std::int64_t> coord(shape.size());
  auto coords_of = [&](std::size_t i) {
    auto rest = static_cast<std::int64_t>(i);
    for (std::size_t a = 0; a < shape.size(); ++a) {
      coord[a] = rest / strides[a];
      rest %= strides[a];
    }
  };
  for (std::size_t i = 0; i < n; ++i) {
    if (mask[i]) continue;
    coords_of(i);
    bool border = false;
    for (std::size_t a = 0; a < shape.size() && !border; ++a) border = coord[a] == 0 || coord[a] == shape[a] - 1;
    if (border) {
      outside[i] = 1;
      stack.push_back(i);
    }
  }
  while (!stack.empty()) {
    const std::size_t i = stack.back();
    stack.pop_back();
    coords_of(i);
    for (std::size_t a = 0; a < shape.size(); ++a) {
      for (int d : {-1, 1}) {
        const std::int64_t c = coord[a] + d;
        if (c < 0 || c >= shape[a]) continue;
        const auto j = static_cast<std::size_t>(static_cast<std::int64_t>(i) + d * strides[a]);
        if (!mask[j] && !outside[j]) {
          outside[j] = 1;
          stack.push_back(j);
        }
      }
    }
  }
  std::vector<std::uint8_t> filled(n);
  for (std::size_t i = 0; i < n; ++i) filled[i] = outside[i] ? 0 : 1;
  return filled;
}

BoundingBox bbox_from_mask(std::span<const std::uint8_t> mask, const Shape& shape) {
  const auto n = static_cast<std::size_t>(shape_numel(shape));
  if (mask.size() != n) throw UsageError("bbox_from_mask: mask size does not match " + shape_string(shape));
  BoundingBox box;
  for (auto s : shape) box.push_back({s, -1});
  const Shape strides = strides_of(shape);
  bool any = false;
  for (std::size_t i = 0; i < n; ++i) {
    if (!mask[i]) continue;
    any = true;
    auto rest = static_cast<std::int64_t>(i);
    for (std::size_t a = 0; a < shape.size(); ++a) {
      const std::int64_t c = rest / strides[a];
      rest %= strides[a];
      box[a][0] = std::min(box[a][0], c);
      box[a][1] = std::max(box[a][1], c + 1);
    }
  }
  if (!any)
    for (std::size_t a = 0; a < shape.size(); ++a) box[a] = {0, shape[a]};
  return box;
}

CropResult crop_to_nonzero(std::span<const float> data, const Shape& shape) {
  if (shape.size() < 2 || static_cast<std::int64_t>(data.size()) != shape_numel(shape))
    throw UsageError("crop_to_nonzero: data does not match shape " + shape_string(shape));
  const Shape spatial(shape.begin() + 1, shape.end());
  const auto voxels = static_cast<std::size_t>(shape_numel(spatial));
  std::vector<std::uint8_t> nonzero(voxels, 0);
  for (std::int64_t c = 0; c < shape[0]; ++c)
    for (std::size_t i = 0; i < voxels; ++i)
      if (data[static_cast<std::size_t>(c) * voxels + i] != 0.0F) nonzero[i] = 1;
  const auto mask = binary_fill_holes(nonzero, spatial);
  CropResult result;
  result.bbox = bbox_from_mask(mask, spatial);
  Shape cropped;
  for (const auto& b : result.bbox) cropped.push_back(b[1] - b[0]);
  result.shape = Shape{shape[0]};
  result.shape.insert(result.shape.end(), cropped.begin(), cropped.end());
  const auto cropped_voxels = static_cast<std::size_t>(shape_numel(cropped));
  result.data.resize(static_cast<std::size_t>(shape[0]) * cropped_voxels);
  result.seg.resize(cropped_voxels);
  const Shape in_strides = strides_of(spatial);
  std::vector<std::int64_t> idx(cropped.size(), 0);
  for (std::size_t i = 0; i < cropped_voxels; ++i) {
    std::int64_t src = 0;
    for (std::size_t a = 0; a < cropped.size(); ++a) src += (idx[a] + result.bbox[a][0]) * in_strides[a];
    const auto s = static_cast<std::size_t>(src);
    for (std::int64_t c = 0; c < shape[0]; ++c)
      result.data[static_cast<std::size_t>(c) * cropped_voxels + i] = data[static_cast<std::size_t>(c) * voxels + s];
    result.seg[i] = mask[s] ? 0.0F : -1.0F;
    for (std::size_t a = cropped.size(); a-- > 0;) {
      if (++idx[a] < cropped[a]) break;
      idx[a] = 0;
    }
  }
  return result;
}

}  // namespace medport::imaging::nnunet
