#pragma once
// A PNG showing a 2D segmentation over its image: fixed colour per label, alpha blending or
// contours, and a legend strip naming each label.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace medport::segment {

struct OverlayOptions {
  double alpha = 0.45;   // label colour weight in fill mode
  bool contours = false; // draw label outlines instead of filled regions
  int min_size = 384;    // small images are enlarged (nearest) to at least this many pixels wide
};

// RGB colour of label value `label` (0 is background and is never painted).
std::array<std::uint8_t, 3> label_colour(int label);

// PNG bytes. `image` is (H, W) float (any range: shown min..max as grey), `labels` (H, W).
// `label_names[k]` names label value k (missing entries are shown as their number).
std::vector<std::byte> render_overlay_png(std::span<const float> image, std::span<const std::uint8_t> labels,
                                          std::int64_t height, std::int64_t width,
                                          const std::vector<std::string>& label_names, const OverlayOptions& options);

}  // namespace medport::segment
