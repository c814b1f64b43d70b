#include <cmath>

#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"

namespace medport::imaging::nnunet {

void sigmoid_in_place(std::span<float> values) {
  for (float& v : values) v = 1.0F / (1.0F + std::exp(-v));
}

std::vector<std::uint8_t> paint_regions(std::span<const float> probabilities, std::span<const int> regions_class_order) {
  if (regions_class_order.empty()) throw InputError("regions", "no regions to paint");
  const auto voxels = probabilities.size() / regions_class_order.size();
  std::vector<std::uint8_t> labels(voxels, 0);
  for (std::size_t r = 0; r < regions_class_order.size(); ++r) {
    const auto value = static_cast<std::uint8_t>(regions_class_order[r]);
    const float* row = probabilities.data() + r * voxels;
    for (std::size_t i = 0; i < voxels; ++i)
      if (row[i] > 0.5F) labels[i] = value;
  }
  return labels;
}

}  // namespace medport::imaging::nnunet
