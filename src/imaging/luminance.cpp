#include "medport/imaging/luminance.hpp"

namespace medport::imaging {

bool is_colour_frame(const Image& image) {
  return image.geometry.format == ImageFormat::Natural && (image.channels() == 3 || image.channels() == 4);
}

Image to_luminance(const Image& image) {
  if (!is_colour_frame(image)) return image;
  Image out = image;
  const auto per = static_cast<std::size_t>(image.voxels_per_channel());
  out.shape[0] = 1;
  out.data.assign(per, 0.0F);
  const float* r = image.data.data();
  const float* g = r + per;
  const float* b = g + per;
  for (std::size_t i = 0; i < per; ++i)
    out.data[i] = static_cast<float>(0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i]);
  return out;
}

}  // namespace medport::imaging
