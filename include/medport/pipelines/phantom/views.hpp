#pragma once
// The echo views in file names (2CH / 4CH) and the per-view pixel spacing `medport phantom`
// writes beside its images, for echo-ef and evaluate.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace medport::pipelines::clinical {

// The view a file name holds ("2CH" for "p_2CH_ED_gt.npy", "4CH" for "p_4ch_es_seg.png"), or "".
std::string view_in_name(const std::filesystem::path& path);

// Spacing (mm, row then column) of `view` from a `spacing.json` beside `file` ({"2CH": [r, c],
// "4CH": [r, c]}, as `medport phantom` writes it); nullopt without that file or that view.
// Throws InputError naming spacing.json when it is malformed.
std::optional<std::vector<double>> spacing_from_sidecar(const std::filesystem::path& file, const std::string& view);

}  // namespace medport::pipelines::clinical
