#pragma once
// `medport segment --fhir OUT.json`: one FHIR R4 Bundle with the label volumes (3D, mL) or
// areas (2D, mm2) of every finished case of the run, read from the cases' JSON summaries.
#include <filesystem>
#include <string>
#include <vector>

namespace medport::cli {

// Cases without a summary (failed) are left out. Returns how many cases went in.
std::size_t write_segmentation_fhir(const std::filesystem::path& out, const std::filesystem::path& output_dir,
                                    const std::vector<std::string>& case_names);

}  // namespace medport::cli
