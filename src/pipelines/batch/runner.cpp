#include "medport/pipelines/batch/runner.hpp"

#include <algorithm>
#include <vector>

namespace medport::pipelines::batch {

BatchTotals run_case_groups(std::span<const BatchCase> cases, const RunOptions& options, std::size_t group_size,
                            const std::function<void(std::span<const BatchCase>, std::span<CaseReport>)>& process_group,
                            const std::function<void(const CaseReport&)>& on_case,
                            const std::function<void(const BatchCase&, CaseReport&)>& on_skipped) {
  BatchTotals totals;
  group_size = std::max<std::size_t>(group_size, 1);
  std::size_t first = 0;  // the group: cases [first, i)
  auto flush = [&](std::size_t end) {
    if (end == first) return;
    std::vector<CaseReport> reports(end - first);
    for (std::size_t k = first; k < end; ++k) reports[k - first].case_name = cases[k].name;
    process_group(cases.subspan(first, end - first), reports);
    for (const auto& r : reports) {
      totals.add(r);
      on_case(r);
    }
    first = end;
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (!options.overwrite && is_done(options.output_dir, cases[i].name)) {
      flush(i);
      CaseReport report;
      report.case_name = cases[i].name;
      report.status = CaseReport::Status::Skipped;
      if (on_skipped) on_skipped(cases[i], report);
      totals.add(report);
      on_case(report);
      first = i + 1;
      continue;
    }
    if (i + 1 - first == group_size) flush(i + 1);
  }
  flush(cases.size());
  return totals;
}

BatchTotals run_cases(std::span<const BatchCase> cases, const RunOptions& options,
                      const std::function<void(const BatchCase&, CaseReport&)>& process,
                      const std::function<void(const CaseReport&)>& on_case,
                      const std::function<void(const BatchCase&, CaseReport&)>& on_skipped) {
  auto one = [&](std::span<const BatchCase> group, std::span<CaseReport> reports) {
    CaseReport& report = reports.front();
    try {
      process(group.front(), report);
      report.status = CaseReport::Status::Done;
    } catch (const std::exception& e) {
      if (!fails_only_its_case(e)) throw;
      report.status = CaseReport::Status::Failed;
      report.message = e.what();
    }
  };
  return run_case_groups(cases, options, 1, one, on_case, on_skipped);
}

}  // namespace medport::pipelines::batch
