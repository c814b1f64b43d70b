#pragma once
// The few-shot pipeline's config file (inference.yaml / .json), keys in docs/IRIS.md.
#include <filesystem>

#include "medport/pipelines/fewshot/settings.hpp"

namespace medport::pipelines::fewshot {

// Reads a YAML or JSON config into `settings` (relative support/bank paths are taken from the
// config file's folder). Unknown keys and wrong types are InputErrors naming the file and key.
void apply_config_file(const std::filesystem::path& path, FewshotSettings& settings);

}  // namespace medport::pipelines::fewshot
