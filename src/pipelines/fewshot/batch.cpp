#include "medport/pipelines/fewshot/batch.hpp"

#include <fstream>

#include <fmt/format.h>

#include "medport/error.hpp"
#include "medport/pipelines/batch/case_outputs.hpp"
#include "medport/pipelines/batch/progress.hpp"
#include "medport/pipelines/batch/runner.hpp"
#include "medport/pipelines/fewshot/bank_files.hpp"
#include "medport/pipelines/fewshot/case_writer.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/stopwatch.hpp"
#include "medport/util/json_text.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A skipped case's quality verdict, from the report it wrote earlier.
void previous_quality(const batch::BatchCase& c, const fs::path& output_dir, batch::CaseReport& report) {
  std::ifstream in(batch::done_marker(output_dir, c.name));
  const auto previous = json::parse(in, nullptr, false);
  if (!previous.is_discarded() && previous.contains("quality")) report.facts["quality_passed"] = previous["quality"].value("passed", true);
}

json case_entry(const batch::BatchCase& c, const batch::CaseReport& report) {
  json entry{{"case", c.name}, {"query", c.files.front().string()}, {"status", batch::status_name(report.status)}};
  if (report.status == batch::CaseReport::Status::Done) entry["seconds"] = report.seconds;
  if (report.status == batch::CaseReport::Status::Failed) entry["error"] = report.message;
  entry.update(report.facts);
  return entry;
}

}  // namespace

std::vector<batch::BatchCase> collect_queries(std::span<const fs::path> queries, const fs::path& query_dir,
                                              const fs::path& output_dir) {
  std::vector<fs::path> files(queries.begin(), queries.end());
  if (!query_dir.empty()) {
    std::error_code ec;
    if (fs::weakly_canonical(query_dir, ec) == fs::weakly_canonical(output_dir, ec))
      throw UsageError("-o must not be the --query-dir itself (the outputs would become queries on the next run)");
    const auto found = batch::image_files_in(query_dir);
    if (found.empty()) throw UsageError("no images found in " + query_dir.string());
    files.insert(files.end(), found.begin(), found.end());
  }
  if (files.empty()) throw UsageError("give --query IMG or --query-dir DIR");
  std::vector<batch::BatchCase> cases;
  for (const auto& f : files) cases.push_back({batch::case_name_for(f), {f}});
  const std::string reserved[] = {kBatchSummaryName};
  batch::check_case_names(cases, reserved);
  return cases;
}

FewshotBatchOutcome run_batch(const FewshotPipeline& pipeline, std::span<const batch::BatchCase> queries,
                              const FewshotBatchOptions& options,
                              const std::function<void(const batch::CaseReport&)>& on_case) {
  const Stopwatch start;
  const FewshotSettings& settings = pipeline.settings();
  const fs::path& model_dir = pipeline.request().model_dir;
  fs::create_directories(options.output_dir);
  batch::remove_stale_staging(options.output_dir);

  FewshotBatchOutcome outcome;
  json cases = json::array();
  std::size_t next = 0;  // the case being worked on
  auto write_summary = [&](const json& stopped) {
    const auto& cfg = pipeline.request().config_file;
    outcome.summary = {{"strategy", settings.strategy},
                       {"model", model_dir.string()},
                       {"config_file", cfg ? json(cfg->string()) : json(nullptr)},
                       {"classes", pipeline.classes()},
                       {"counts",
                        {{"ok", outcome.totals.done},
                         {"skipped", outcome.totals.skipped},
                         {"failed", outcome.totals.failed},
                         {"quality_failed", outcome.quality_failed}}},
                       {"preparation", pipeline.preparation()},
                       {"bank_plot", stopped.is_null() && !settings.bank_plot.empty() ? draw_bank_plot(settings, model_dir) : json(nullptr)},
                       {"wall_seconds", start.seconds()},
                       {"cases", cases}};
    if (!stopped.is_null()) outcome.summary["stopped"] = stopped;
    write_file_atomic(options.output_dir / (std::string(kBatchSummaryName) + ".json"), json_text(outcome.summary) + "\n");
  };

  batch::RunOptions run;
  run.output_dir = options.output_dir;
  run.overwrite = options.overwrite;
  try {
    batch::run_case_groups(
        queries, run, static_cast<std::size_t>(settings.batch_size),
        [&](std::span<const batch::BatchCase> group, std::span<batch::CaseReport> reports) {
          std::vector<FewshotQuery> group_queries;
          for (const auto& c : group) group_queries.push_back({c.name, c.files.front(), options.query_mask});
          auto outcomes = pipeline.run_many(group_queries);
          for (std::size_t i = 0; i < group.size(); ++i) {
            auto& report = reports[i];
            try {
              if (outcomes[i].error) std::rethrow_exception(outcomes[i].error);
              const Stopwatch write_start;
              write_case(*outcomes[i].result, options.output_dir, settings.output);
              report.seconds = outcomes[i].result->seconds + write_start.seconds();
              report.facts["quality_passed"] = outcomes[i].result->quality.passed;
              report.status = batch::CaseReport::Status::Done;
            } catch (const std::exception& e) {
              if (!batch::fails_only_its_case(e)) throw;
              report.status = batch::CaseReport::Status::Failed;
              report.message = e.what();
            }
          }
        },
        [&](const batch::CaseReport& report) {
          if (report.status == batch::CaseReport::Status::Done && !report.facts.value("quality_passed", true))
            ++outcome.quality_failed;
          outcome.totals.add(report);  // counted here so that a stopped batch reports what it did
          cases.push_back(case_entry(queries[next++], report));
          on_case(report);
        },
        [&](const batch::BatchCase& c, batch::CaseReport& report) { previous_quality(c, options.output_dir, report); });
  } catch (const std::exception& e) {
    if (next < queries.size()) write_summary({{"case", queries[next].name}, {"error", e.what()}});
    throw;
  }
  write_summary(nullptr);
  return outcome;
}

std::string quality_note(const batch::CaseReport& report) {
  return report.facts.value("quality_passed", true) ? "" : " (quality check failed)";
}

std::string batch_summary_line(const FewshotBatchOutcome& outcome, const fs::path& output_dir) {
  const auto& t = outcome.totals;
  return fmt::format("fewshot: {} case(s) done, {} skipped as already done, {} failed, {} failed a quality check in {} -> {}\n",
                     t.done, t.skipped, t.failed, outcome.quality_failed,
                     batch::format_duration(outcome.summary.at("wall_seconds").get<double>()), output_dir.string());
}

}  // namespace medport::pipelines::fewshot
