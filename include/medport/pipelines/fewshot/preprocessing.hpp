#pragma once
// How the few-shot pipeline brings an image or mask to the IRIS model's (D,H,W) volume and the
// predictions back. The default is IRIS's upstream preprocessing (Nachiket1234/IRIS
// src/iris/data/preprocessing.py, preprocess_image_and_mask):
//   1. resample to `target_spacing` (when given): scipy.ndimage.zoom by spacing / target_spacing;
//   2. resize to (D,H,W): scipy.ndimage.zoom by (D,H,W) / shape - order 3 for images, 0 for masks
//      (imaging/zoom.hpp; each stage rounds images to float32 as scipy returns the input's type);
//   3. normalize by modality: CT clip to `clip` (default [-1024, 1024]) then to [0, 1]; MRI clip
//      to the `percentiles` (default 1st/99th, numpy's linear percentile) then to [0, 1]; PET
//      z-score (mean, population std, 1 when 0); other min-max to [0, 1] (all 0 when constant).
// 2D images are one-slice volumes: the slice is resized to (H,W) and repeated D times (what a
// (1,H,W) volume zoomed to D slices gives), as the guide's scripts turn 2D data into volumes.
// medport's earlier path stays available by name: resize "linear" (linear for images, nearest for
// masks, pixel centres aligned) and normalize "zscore" | "minmax" | "none".
// Back: per-class probabilities (D,H,W) are averaged over the D repeated slices for 2D queries,
// then resized linearly to the query's own grid (spline path: corners aligned, the inverse of
// the zoom; linear path: pixel centres aligned).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "medport/tensor.hpp"

namespace medport::pipelines::fewshot {

struct PreprocessingSettings {
  std::string resize = "spline";       // spline (upstream) | linear
  std::string normalize = "modality";  // modality (upstream) | zscore | minmax | none
  std::string modality = "CT";         // CT | MRI | PET | other (case-insensitive)
  std::optional<std::array<double, 2>> clip;    // CT window; unset: [-1024, 1024]
  std::array<double, 2> percentiles{1.0, 99.0};  // MRI
  std::vector<double> target_spacing;           // mm per spatial axis (array order); empty: none
};

// "CT" | "MRI" | "PET" | "other" for any spelling of those (UsageError otherwise).
std::string canonical_modality(const std::string& name);

// UsageError naming the setting for unknown names, an empty or inverted window, percentiles
// outside 0..100 or not increasing, non-positive target spacing.
void validate(const PreprocessingSettings& settings);

// An image's spatial array (2 or 3 axes, `spacing` mm per axis or empty) -> (D,H,W) float32,
// normalized. InputError when a 2D image gets a 3-value target spacing or the other way round.
std::vector<float> image_to_volume(std::span<const float> values, const Shape& spatial, std::span<const double> spacing,
                                   const Shape& volume_shape, const PreprocessingSettings& settings);

// One 0/1 (or label) channel -> (D,H,W) with order 0 / nearest, the same geometry as the image.
std::vector<double> mask_to_volume(std::span<const double> values, const Shape& spatial, std::span<const double> spacing,
                                   const Shape& volume_shape, const PreprocessingSettings& settings);

// Step 3 alone, in place, on a resized volume.
void normalize_volume(std::vector<float>& volume, const PreprocessingSettings& settings);

// (K,D,H,W) probabilities -> (K, voxels of `spatial`) in [0, 1].
std::vector<float> probabilities_to_grid(std::span<const float> probabilities, std::int64_t classes,
                                         const Shape& volume_shape, const Shape& spatial,
                                         const PreprocessingSettings& settings);

}  // namespace medport::pipelines::fewshot
