// .npy arrays as images: (Y, X), (Z, Y, X) or (C, Y, X), and (C, Z, Y, X); spacing 1.
#include "image_formats.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"

namespace medport::imaging::detail {

Image read_npy_image(const std::filesystem::path& path, const ReadOptions& options) {
  const Tensor tensor = ckpt::read_npy_file(path);
  const Shape& s = tensor.shape();
  Image image;
  image.geometry.format = ImageFormat::Npy;
  image.original_dtype = std::string(dtype_name(tensor.dtype()));
  if (s.size() == 2) image.shape = {1, s[0], s[1]};
  else if (s.size() == 3) image.shape = options.npy_channels_first ? s : Shape{1, s[0], s[1], s[2]};
  else if (s.size() == 4) image.shape = s;
  else throw InputError(path.string(), "npy images must have 2 to 4 axes, got " + shape_string(s));
  image.spacing.assign(image.shape.size() - 1, 1.0);
  image.data = tensor.to_f32();
  return image;
}

void write_npy_labels(const std::filesystem::path& path, const LabelImage& labels) {
  const auto* bytes = reinterpret_cast<const std::byte*>(labels.labels.data());
  ckpt::write_npy_file(path, Tensor::from_bytes(DType::U8, labels.shape, {bytes, labels.labels.size()}));
}

}  // namespace medport::imaging::detail
