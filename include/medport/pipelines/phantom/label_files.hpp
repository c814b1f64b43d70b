#pragma once
// Finding and reading label maps (ground truths `*_gt.*`, `medport segment` outputs `*_seg.*`)
// for the clinical commands: echo-ef, evaluate and the phantom's own checks.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "medport/imaging/label_image.hpp"

namespace medport::pipelines::clinical {

struct LabelMapFile {
  imaging::LabelImage image;
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
std::string case_name(const std::filesystem::path& path);

// Label-map files directly inside `folder`, sorted by name; when one case exists with several
// endings, the first of .nii.gz .nii .mha .mhd .npy .png .tif .tiff .bmp is kept.
std::vector<std::filesystem::path> label_map_files(const std::filesystem::path& folder);

// The view a file name holds ("2CH" for "p_2CH_ED_gt.npy", "4CH" for "p_4ch_es_seg.png"), or "".
std::string view_in_name(const std::filesystem::path& path);

// Spacing (mm, row then column) of `view` from a `spacing.json` beside `file` ({"2CH": [r, c],
// "4CH": [r, c]}, as `medport phantom` writes it); nullopt without that file or that view.
// Throws InputError naming spacing.json when it is malformed.
std::optional<std::vector<double>> spacing_from_sidecar(const std::filesystem::path& file, const std::string& view);

// "0.3,0.3" -> {0.3, 0.3}; throws UsageError unless `count` positive numbers are given.
std::vector<double> parse_spacing(const std::string& text, std::size_t min_count, std::size_t max_count);

}  // namespace medport::pipelines::clinical
