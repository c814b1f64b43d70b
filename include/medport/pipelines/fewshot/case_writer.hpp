#pragma once
// Writes a FewshotResult (pipeline.hpp) into an output folder, every file of the case together
// or none (pipelines/batch/case_outputs.hpp): <case>_labels.<format> (a folder of PNG slices for
// a 3D PNG map), <case>_montage.png, <case>_confidence.npy, then <case>.json last with `outputs`
// and the write timings added, so its presence marks a finished case.
#include <filesystem>
#include <vector>

#include "medport/pipelines/fewshot/pipeline.hpp"
#include "medport/pipelines/fewshot/settings.hpp"

namespace medport::pipelines::fewshot {

// Returns the files written, the case JSON last.
std::vector<std::filesystem::path> write_case(const FewshotResult& result, const std::filesystem::path& output_dir,
                                              const OutputSettings& output);

}  // namespace medport::pipelines::fewshot
