#include "medport/imaging/image.hpp"

#include <algorithm>
#include <cmath>

#include "medport/error.hpp"

namespace medport::imaging {

std::string format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Natural: return "natural image";
    case ImageFormat::Nifti: return "NIfTI";
    case ImageFormat::MetaImage: return "MetaImage";
    case ImageFormat::Npy: return "npy";
    case ImageFormat::Dicom: return "DICOM";
  }
  return "unknown";
}

std::int64_t Image::voxels_per_channel() const { return shape.size() < 2 ? 0 : shape_numel(spatial_shape()); }

void Image::validate() const {
  if (shape.size() != 3 && shape.size() != 4)
    throw InputError(source, "image shape " + shape_string(shape) + " is not (C, Y, X) or (C, Z, Y, X)");
  for (auto s : shape)
    if (s < 1) throw InputError(source, "image shape " + shape_string(shape) + " has an empty axis");
  if (static_cast<std::int64_t>(data.size()) != shape_numel(shape))
    throw InputError(source, "image holds " + std::to_string(data.size()) + " values for shape " + shape_string(shape));
  if (spacing.size() != spatial_dims())
    throw InputError(source, "image has " + std::to_string(spacing.size()) + " spacing values for " +
                                 std::to_string(spatial_dims()) + " spatial axes");
  for (double s : spacing)
    if (!(s > 0) || !std::isfinite(s)) throw InputError(source, "spacing values must be finite and > 0");
}

Image to_nnunet_layout(const Image& image) {
  image.validate();
  if (image.spatial_dims() == 3) return image;
  Image out = image;
  out.shape = {image.shape[0], 1, image.shape[1], image.shape[2]};
  const double in_plane = std::max(image.spacing[0], image.spacing[1]);
  out.spacing = {999.0 * in_plane, image.spacing[0], image.spacing[1]};
  return out;
}

}  // namespace medport::imaging
