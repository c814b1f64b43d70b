#pragma once
// What `medport fewshot` makes of IRIS logits: per-class binary masks (sigmoid + threshold,
// optional largest connected component and 3D morphological clean-up), a merged label map,
// confidence, per-class volumes, quality checks, and the files (label map, overlay montage).
//
//   auto probs = sigmoid(logits.to_f32());                       // (K, D, H, W) flattened
//   auto masks = make_class_masks(probs, K, grid, {.threshold = 0.5, .largest_component = true});
//   auto labels = merge_labels(masks, probs, K);                 // 0 = background, 1..K
//   auto stats = class_statistics(masks, probs, K, grid, spacing);
//
// Every array is row-major over a Grid (D, H, W); a 2D image is a grid of depth 1, where
// 26-connectivity is 8-connectivity and a ball is a disk.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "medport/imaging/image.hpp"
#include "medport/imaging/label_image.hpp"

namespace medport::pipelines::fewshot {

struct Grid {
  std::int64_t depth = 1;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::size_t voxels() const { return static_cast<std::size_t>(depth * height * width); }
};

// 1 / (1 + exp(-x)) per element, evaluated in double.
std::vector<float> sigmoid(std::span<const float> logits);

// 0/1 per element: probability > threshold (strictly, as `sigmoid(logits) > 0.5` upstream).
std::vector<std::uint8_t> threshold_masks(std::span<const float> probabilities, double threshold);

// Keeps only the largest connected component of a 0/1 mask over `grid` (ties: the one met
// first in raster order). connectivity 6 (faces) or 26 (faces, edges, corners); UsageError otherwise.
void keep_largest_component(std::span<std::uint8_t> mask, const Grid& grid, int connectivity = 26);

// Binary erosion / dilation with a ball of `radius` voxels (offsets with dz^2+dy^2+dx^2 <= r^2),
// exact in 3D (through a Euclidean distance transform). Outside the grid counts as foreground
// for erosion and as background for dilation, so objects touching the border are not eaten.
void erode(std::span<std::uint8_t> mask, const Grid& grid, int radius);
void dilate(std::span<std::uint8_t> mask, const Grid& grid, int radius);
// Opening (erode, dilate: removes specks thinner than the ball) then closing (dilate, erode:
// fills holes and gaps narrower than the ball). radius 0 leaves the mask unchanged.
void morphological_cleanup(std::span<std::uint8_t> mask, const Grid& grid, int radius);

// Removes the connected components (`connectivity` 6 or 26) of fewer than `min_voxels` voxels,
// as skimage.morphology.remove_small_objects(min_size=min_voxels).
void remove_small_objects(std::span<std::uint8_t> mask, const Grid& grid, std::int64_t min_voxels, int connectivity = 26);

// Sets the background regions that do not reach the grid's border (face-connected), as
// scipy.ndimage.binary_fill_holes; a grid of depth 1 is one 2D image (its border is its edges).
void fill_holes(std::span<std::uint8_t> mask, const Grid& grid);

struct MaskOptions {
  double threshold = 0.5;
  bool largest_component = false;
  int connectivity = 26;      // 6 or 26
  int morphology_radius = 0;  // voxels; 0: no clean-up
  std::int64_t min_object_voxels = 0;  // 0: keep every object
  bool fill_holes = false;
};

// (K, voxels) probabilities -> (K, voxels) 0/1 masks, per class in this order: threshold,
// morphological clean-up (opening then closing), small objects removed, holes filled, the
// largest component kept (last, so nothing before it can split the kept one).
std::vector<std::uint8_t> make_class_masks(std::span<const float> probabilities, std::int64_t classes,
                                           const Grid& grid, const MaskOptions& options);

// One label per voxel: label_values[k] where class k's mask is set (label_values empty: k + 1);
// where several masks overlap, the class with the highest probability wins (lowest k on a tie);
// 0 where no mask is set. Values must lie in 1..255 (UsageError).
std::vector<std::uint8_t> merge_labels(std::span<const std::uint8_t> masks, std::span<const float> probabilities,
                                       std::int64_t classes, std::span<const std::int64_t> label_values = {});

// Per voxel, the probability of the decision shown in the label map: p_k of the winning class
// where a class is labelled, and 1 - max_k p_k (no class present) on background.
std::vector<float> confidence_map(std::span<const float> probabilities, std::span<const std::uint8_t> merged_labels,
                                  std::int64_t classes, std::span<const std::int64_t> label_values = {});

// Mean over voxels of max(p, 1 - p) for one class's probabilities, in [0.5, 1]. The inference
// guide's QA score mean |p - 0.5| is this value minus 0.5.
double mean_binary_confidence(std::span<const float> probabilities);

struct ClassStats {
  std::int64_t voxels = 0;
  double volume_ml = 0.0;        // voxels x prod(spacing) / 1000 (spacing in mm); 2D: mm^2 / 1000
  double fraction = 0.0;         // voxels / grid voxels
  double mean_confidence = 0.0;  // mean_binary_confidence of the class
};
// spacing: mm per axis of the grid (D, H, W) or (H, W) for depth 1; empty: 1 mm.
std::vector<ClassStats> class_statistics(std::span<const std::uint8_t> masks, std::span<const float> probabilities,
                                         std::int64_t classes, const Grid& grid, std::span<const double> spacing);

// Dice 2|A.B| / (|A| + |B|) of two 0/1 masks; nullopt when both are empty.
std::optional<double> dice(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// The inference guide's QA checks. Unset thresholds are not checked.
struct QualityOptions {
  std::optional<double> min_confidence = 0.7;    // mean confidence (all classes) must be >= this
  std::optional<double> max_volume_ratio = 0.8;  // foreground fraction (any class) must be <= this
};
struct QualityCheck {
  std::string name;  // "min_confidence" | "max_volume_ratio"
  double value = 0.0;
  double threshold = 0.0;
  bool passed = true;
  std::string reason;  // human-readable, for failed and passed checks alike
};
struct QualityReport {
  bool passed = true;
  std::vector<QualityCheck> checks;
};
QualityReport check_quality(double mean_confidence, double foreground_fraction, const QualityOptions& options);

// ---- files -----------------------------------------------------------------------------

enum class LabelFormat { NiftiGz, Npy, Png };
// "nii.gz" | "npy" | "png" (UsageError otherwise).
LabelFormat parse_label_format(std::string_view text);
std::string label_format_name(LabelFormat format);

// Writes the label map atomically as `<stem>.nii.gz` (the reference's NIfTI header when it
// is a NIfTI image of the same shape, otherwise an identity header with the spacing),
// `<stem>.npy`, or PNG: `<stem>.png` for a 2D map, a folder `<stem>/slice_###.png` (one per
// depth index, built in a temporary folder and renamed) for a 3D one. Returns what it wrote.
std::vector<std::filesystem::path> write_labels(const std::filesystem::path& stem, const imaging::LabelImage& labels,
                                                const imaging::Image& reference, LabelFormat format);

struct MontageOptions {
  int slices = 9;       // at most this many depth indices (fewer when the grid is thinner)
  int tile_size = 224;  // pixels of a tile's longer side
  double alpha = 0.45;  // label colour weight
  double pixel_aspect = 1.0;  // row spacing / column spacing, so tiles keep physical proportions (0.1..10)
  std::string title;    // shown in the header strip (e.g. the case name)
};
// `count` depth indices evenly spread over [0, depth): floor((i + 0.5) * depth / count).
std::vector<std::int64_t> montage_slices(std::int64_t depth, int count);
// A PNG grid of slices of `image` (grid voxels, any range, shown with a 1st-99th percentile
// window) with the labels filled in their colours and outlined, each tile captioned with its
// slice index and a legend (label colour, name, and `legend_notes`, e.g. volumes) underneath.
// names[i] / legend_notes[i] describe label value label_values[i] (empty: i + 1).
std::vector<std::byte> render_montage_png(std::span<const float> image, std::span<const std::uint8_t> labels,
                                          const Grid& grid, const std::vector<std::string>& names,
                                          const std::vector<std::string>& legend_notes,
                                          std::span<const std::int64_t> label_values, const MontageOptions& options);

}  // namespace medport::pipelines::fewshot
