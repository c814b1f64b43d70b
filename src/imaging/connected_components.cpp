#include "medport/imaging/connected_components.hpp"

#include <algorithm>
#include <string>

#include "medport/error.hpp"
#include "medport/tensor.hpp"

namespace medport::imaging {
namespace {

struct Offset {
  std::int64_t dz, dy, dx;
};

// The neighbour offsets of `connectivity` in a grid of `rank` axes: the steps along at most
// `reach` axes at once (1: 2D edges / 3D faces, 2: adds 2D corners / 3D edges, 3: 3D corners).
std::vector<Offset> neighbour_offsets(std::size_t rank, int connectivity) {
  int reach = 0;
  if (rank == 2) reach = connectivity == 4 ? 1 : connectivity == 8 ? 2 : 0;
  if (rank == 3) reach = connectivity == 6 ? 1 : connectivity == 18 ? 2 : connectivity == 26 ? 3 : 0;
  if (reach == 0)
    throw UsageError("connected components: connectivity " + std::to_string(connectivity) + " is not one of " +
                     (rank == 2 ? "4, 8 (2D)" : "6, 18, 26 (3D)"));
  std::vector<Offset> offsets;
  const std::int64_t z_reach = rank == 3 ? 1 : 0;
  for (std::int64_t dz = -z_reach; dz <= z_reach; ++dz)
    for (std::int64_t dy = -1; dy <= 1; ++dy)
      for (std::int64_t dx = -1; dx <= 1; ++dx) {
        const int nonzero = (dz != 0) + (dy != 0) + (dx != 0);
        if (nonzero > 0 && nonzero <= reach) offsets.push_back({dz, dy, dx});
      }
  return offsets;
}

}  // namespace

std::int32_t Components::largest() const {
  if (sizes.empty()) return -1;
  return static_cast<std::int32_t>(std::max_element(sizes.begin(), sizes.end()) - sizes.begin());
}

Components label_components(std::span<const std::uint8_t> mask, std::span<const std::int64_t> shape, int connectivity) {
  const Shape dims(shape.begin(), shape.end());
  if ((dims.size() != 2 && dims.size() != 3) || std::any_of(dims.begin(), dims.end(), [](auto n) { return n <= 0; }) ||
      mask.size() != static_cast<std::size_t>(shape_numel(dims)))
    throw UsageError("connected components: a mask of " + std::to_string(mask.size()) + " voxels over grid " +
                     shape_string(dims) + " (2 or 3 positive axes)");
  const auto offsets = neighbour_offsets(dims.size(), connectivity);
  const std::int64_t depth = dims.size() == 3 ? dims[0] : 1, height = dims[dims.size() - 2], width = dims.back();
  const std::int64_t plane = height * width;

  Components c;
  c.label.assign(mask.size(), -1);
  std::vector<std::int64_t> stack;
  for (std::int64_t start = 0; start < static_cast<std::int64_t>(mask.size()); ++start) {
    if (!mask[static_cast<std::size_t>(start)] || c.label[static_cast<std::size_t>(start)] >= 0) continue;
    const auto id = static_cast<std::int32_t>(c.sizes.size());
    std::int64_t size = 0;
    stack.assign(1, start);
    c.label[static_cast<std::size_t>(start)] = id;
    while (!stack.empty()) {
      const std::int64_t v = stack.back();
      stack.pop_back();
      ++size;
      const std::int64_t z = v / plane, y = (v / width) % height, x = v % width;
      for (const auto& o : offsets) {
        const std::int64_t nz = z + o.dz, ny = y + o.dy, nx = x + o.dx;
        if (nz < 0 || ny < 0 || nx < 0 || nz >= depth || ny >= height || nx >= width) continue;
        const auto n = static_cast<std::size_t>((nz * height + ny) * width + nx);
        if (!mask[n] || c.label[n] >= 0) continue;
        c.label[n] = id;
        stack.push_back(static_cast<std::int64_t>(n));
      }
    }
    c.sizes.push_back(size);
  }
  return c;
}

}  // namespace medport::imaging
