#pragma once
// One query of `medport fewshot`: predict, post-process, write the label map (and montage,
// confidence map), then OUTDIR/<case>.json last, so its presence marks a finished case. If
// anything fails, the files this case already wrote are removed again.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fewshot_settings.hpp"
#include "fewshot_strategy.hpp"

namespace medport::cli::fewshot {

struct RunContext {
  const FewshotSettings* settings = nullptr;
  const StrategyRunner* runner = nullptr;
  Shape volume_shape;
  std::vector<std::int64_t> classes;
  std::vector<std::string> class_names;  // one per class
  std::filesystem::path model_dir;
  std::filesystem::path output_dir;
  std::optional<std::filesystem::path> query_mask;
  std::optional<std::filesystem::path> config_file;
  nlohmann::json supports = nlohmann::json::array();
};

struct CaseOutcome {
  std::vector<std::filesystem::path> files;
  bool quality_passed = true;
  double seconds = 0.0;
};

std::filesystem::path case_json_path(const std::filesystem::path& output_dir, const std::string& case_name);
CaseOutcome run_case(const RunContext& context, const std::filesystem::path& query, const std::string& case_name);

}  // namespace medport::cli::fewshot
