#pragma once
// Finding and reading label maps (ground truths `*_gt.*`, segmentation outputs `*_seg.*`) as
// integer images, for echo-ef, evaluate, the phantom's own checks and every pipeline that takes
// a mask. Spacing given as text on the command line is parsed here too.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "medport/imaging/label_image.hpp"

namespace medport::imaging {

struct LabelMapFile {
  LabelImage image;
  bool spacing_from_file = false;  // NIfTI / MetaImage carry it; npy and PNG do not
};

// Reads a 2D or 3D label map (.npy, .png/.bmp/.tif, .nii/.nii.gz, .mhd/.mha, DICOM) as integers 0..255.
// A 3D volume with a single slice is returned as 2D. `spacing` replaces the file's spacing.
// Throws InputError naming the file for non-integer values, channels or unreadable files.
LabelMapFile read_label_map(const std::filesystem::path& path,
                            const std::optional<std::vector<double>>& spacing = std::nullopt);

// True for endings read_label_map understands.
bool is_label_map_file(const std::filesystem::path& path);

// File name without its ending ("a_2CH_ED_gt.nii.gz" -> "a_2CH_ED_gt").
std::string stem_without_ending(const std::filesystem::path& path);

// Case name for matching predictions with references: the stem without a trailing "_gt" or "_seg".
std::string matching_case_name(const std::filesystem::path& path);

// Label-map files directly inside `folder`, sorted by name; when one case exists with several
// endings, the first of .nii.gz .nii .mha .mhd .npy .png .tif .tiff .bmp is kept.
std::vector<std::filesystem::path> label_map_files(const std::filesystem::path& folder);

// "0.3,0.3" -> {0.3, 0.3}; throws UsageError unless `min_count`..`max_count` positive numbers are given.
std::vector<double> parse_spacing(const std::string& text, std::size_t min_count, std::size_t max_count);

}  // namespace medport::imaging
