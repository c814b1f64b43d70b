#pragma once
// 2D helpers the CAMUS clinical measures depend on, reproduced exactly from the reference
// tools: skimage.measure.find_contours (marching squares plus its segment assembly, which
// fixes each contour's start point, direction and the order of the returned contours) and
// PIL's Image.resize with NEAREST (what the CAMUS code uses to make masks isotropic).
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "medport/imaging/label_image.hpp"

namespace medport::metrics {

struct ContourPoint {
  double row = 0.0;
  double col = 0.0;
  bool operator==(const ContourPoint&) const = default;
};
using Contour = std::vector<ContourPoint>;

// skimage.measure.find_contours(image, level) with fully_connected='low' and
// positive_orientation='low': contours in skimage's order (by the first segment each one
// started from, scanning rows then columns); closed contours repeat their first point at the
// end. `values` is a row-major rows x cols image (both >= 2). NaN corners skip their square.
std::vector<Contour> find_contours(std::span<const double> values, std::int64_t rows, std::int64_t cols,
                                   double level);
// Same on a 2D label image, with its labels as values.
std::vector<Contour> find_contours(const imaging::LabelImage& image, double level);

// PIL Image.resize((new_cols, new_rows), NEAREST): output pixel x samples input column
// floor(x0) where x0 starts at scale/2 and advances by scale = in/out per pixel (accumulated
// in double exactly as Pillow does). Spacing is scaled accordingly.
imaging::LabelImage resize_nearest_pil(const imaging::LabelImage& image, std::int64_t new_rows,
                                       std::int64_t new_cols);

// The CAMUS resize_image_to_isotropic: new size = round_half_even(shape * spacing / min(spacing)),
// nearest resize, returns the image and the isotropic spacing min(spacing).
std::pair<imaging::LabelImage, double> resize_to_isotropic(const imaging::LabelImage& image);

}  // namespace medport::metrics
