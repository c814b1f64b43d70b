#pragma once
// A batch of few-shot queries into one output folder, with the rules of every batch
// (pipelines/batch): finished cases skipped, a bad query fails its case only, an engine failure
// stops the batch (rethrown) with the cases before it intact. Each case is run (pipeline.hpp)
// then written (case_writer.hpp); OUTDIR/batch_summary.json is written at the end - also when
// the batch stops, then with `stopped` naming the case and the error.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "medport/pipelines/batch/cases.hpp"
#include "medport/pipelines/batch/report.hpp"
#include "medport/pipelines/fewshot/pipeline.hpp"

namespace medport::pipelines::fewshot {

inline constexpr const char* kBatchSummaryName = "batch_summary";  // OUTDIR/batch_summary.json

// The queries of a run: the files given, then every image of `query_dir` (sorted). UsageError
// when there is none, when two share a case name, when a name is reserved, or when the output
// folder is the query folder itself.
std::vector<batch::BatchCase> collect_queries(std::span<const std::filesystem::path> queries,
                                              const std::filesystem::path& query_dir,
                                              const std::filesystem::path& output_dir);

struct FewshotBatchOptions {
  std::filesystem::path output_dir;
  bool overwrite = false;                          // redo cases whose <case>.json exists
  std::optional<std::filesystem::path> query_mask;  // the reference mask of a single query
};

struct FewshotBatchOutcome {
  batch::BatchTotals totals;
  std::size_t quality_failed = 0;  // finished cases whose quality check failed
  nlohmann::json summary;          // what batch_summary.json holds
};

// `on_case` sees every case in input order; a report's facts hold `quality_passed`.
FewshotBatchOutcome run_batch(const FewshotPipeline& pipeline, std::span<const batch::BatchCase> queries,
                              const FewshotBatchOptions& options,
                              const std::function<void(const batch::CaseReport&)>& on_case);

// What `medport fewshot` adds to a finished case's progress line: " (quality check failed)" when
// its quality check failed, else nothing.
std::string quality_note(const batch::CaseReport& report);
// What `medport fewshot` says at the end of a batch: "fewshot: D case(s) done, S skipped as already
// done, F failed, Q failed a quality check in 12.3s -> OUTDIR" (the summary's wall time).
std::string batch_summary_line(const FewshotBatchOutcome& outcome, const std::filesystem::path& output_dir);

}  // namespace medport::pipelines::fewshot
