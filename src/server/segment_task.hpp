#pragma once
// One uploaded case through the segmentation pipeline (segment::compute_case, the function the
// CLI's `medport segment` runs per case), shared by /v1/segment and /v1/echo/ef.
#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/pipelines/segment/case_runner.hpp"
#include "service.hpp"

namespace medport::server {

struct SegmentTaskOptions {
  std::optional<std::vector<double>> spacing;
  bool tta = true;
  bool overlay = true;
  bool contours = false;
  double alpha = 0.45;
  bool probabilities = false;
};

// Runs inside the caller's admission ticket; stops at the request's deadline (504).
segment::SegmentResult segment_upload(const Call& c, const ServedModel& model, const std::string& case_name,
                                      const std::vector<std::filesystem::path>& files, const SegmentTaskOptions& options);

// The JSON a segmentation answers with: summary (without server paths), label map, overlay, areas.
nlohmann::json segment_reply(const ServedModel& model, segment::SegmentResult& result);

}  // namespace medport::server
