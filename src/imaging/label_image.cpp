#include "medport/imaging/label_image.hpp"

#include <cmath>

#include "medport/error.hpp"

namespace medport::imaging {
namespace {

void check_shape(const std::vector<std::int64_t>& shape, const std::string& source) {
  if (shape.size() < 2 || shape.size() > 3) {
    throw InputError(source, "label images need 2 or 3 axes, got " + std::to_string(shape.size()));
  }
  for (auto extent : shape) {
    if (extent <= 0) throw InputError(source, "label image axes must be positive, got " + shape_string(shape));
  }
  // Guard against absurd sizes before anything is allocated (2^34 voxels is far beyond any scan).
  std::int64_t total = 1;
  for (auto extent : shape) {
    if (extent > (std::int64_t{1} << 34) / total) throw InputError(source, "label image too large: " + shape_string(shape));
    total *= extent;
  }
}

}  // namespace

LabelImage::LabelImage(std::vector<std::int64_t> shape_, std::vector<double> spacing_)
    : shape(std::move(shape_)), spacing(std::move(spacing_)) {
  check_shape(shape, "label image");
  labels.assign(static_cast<std::size_t>(shape_numel(shape)), 0);
  validate("label image");
}

std::int64_t LabelImage::numel() const { return shape_numel(shape); }

double LabelImage::spacing_at(std::size_t axis) const { return spacing.empty() ? 1.0 : spacing.at(axis); }

void LabelImage::validate(const std::string& source) const {
  check_shape(shape, source);
  if (static_cast<std::int64_t>(labels.size()) != numel()) {
    throw InputError(source, "label image holds " + std::to_string(labels.size()) + " values for shape " +
                                 shape_string(shape));
  }
  if (!spacing.empty()) {
    if (spacing.size() != shape.size()) {
      throw InputError(source, "spacing has " + std::to_string(spacing.size()) + " values for " +
                                   std::to_string(shape.size()) + " axes");
    }
    for (double s : spacing) {
      if (!(s > 0.0) || !std::isfinite(s)) throw InputError(source, "spacing values must be finite and > 0");
    }
  }
}

LabelImage label_image_from_tensor(const Tensor& tensor, const std::string& source, std::vector<double> spacing) {
  if (!tensor.defined()) throw InputError(source, "empty tensor");
  check_shape(tensor.shape(), source);
  const DType dtype = tensor.dtype();
  if (dtype_is_floating(dtype)) {
    throw InputError(source, std::string("label images need an integer or bool dtype, got ") +
                                 std::string(dtype_name(dtype)));
  }
  LabelImage image;
  image.shape = tensor.shape();
  image.spacing = std::move(spacing);
  const Tensor contiguous = tensor.contiguous();
  const auto n = static_cast<std::size_t>(contiguous.numel());
  image.labels.resize(n);
  auto store = [&](std::size_t i, std::int64_t value) {
    if (value < 0 || value > 255) {
      throw InputError(source, "label value " + std::to_string(value) + " outside 0..255");
    }
    image.labels[i] = static_cast<std::uint8_t>(value);
  };
  for (std::size_t i = 0; i < n; ++i) {
    switch (dtype) {
      case DType::U8: image.labels[i] = contiguous.data<std::uint8_t>()[i]; break;
      case DType::Bool: image.labels[i] = contiguous.data<std::uint8_t>()[i] != 0 ? 1 : 0; break;
      case DType::I8: store(i, contiguous.data<std::int8_t>()[i]); break;
      case DType::I16: store(i, contiguous.data<std::int16_t>()[i]); break;
      case DType::I32: store(i, contiguous.data<std::int32_t>()[i]); break;
      case DType::I64: store(i, contiguous.data<std::int64_t>()[i]); break;
      default: throw InputError(source, std::string("unsupported dtype ") + std::string(dtype_name(dtype)));
    }
  }
  image.validate(source);
  return image;
}

LabelImage binary_mask(const LabelImage& image, std::uint8_t label) {
  LabelImage mask = image;
  for (auto& value : mask.labels) value = value == label ? 1 : 0;
  return mask;
}

}  // namespace medport::imaging
