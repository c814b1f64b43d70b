#include "medport/pipelines/batch/runner.hpp"

namespace medport::pipelines::batch {

BatchTotals run_cases(std::span<const BatchCase> cases, const RunOptions& options,
                      const std::function<void(const BatchCase&, CaseReport&)>& process,
                      const std::function<void(const CaseReport&)>& on_case,
                      const std::function<void(const BatchCase&, CaseReport&)>& on_skipped) {
  BatchTotals totals;
  for (const auto& c : cases) {
    CaseReport report;
    report.case_name = c.name;
    if (!options.overwrite && is_done(options.output_dir, c.name)) {
      report.status = CaseReport::Status::Skipped;
      if (on_skipped) on_skipped(c, report);
    } else {
      try {
        process(c, report);
        report.status = CaseReport::Status::Done;
      } catch (const std::exception& e) {
        if (!fails_only_its_case(e)) throw;
        report.status = CaseReport::Status::Failed;
        report.message = e.what();
      }
    }
    totals.add(report);
    on_case(report);
  }
  return totals;
}

}  // namespace medport::pipelines::batch
