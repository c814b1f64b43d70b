#pragma once
// The batch loop of pipelines that run one case at a time (fewshot): each case in input order is
// skipped when done (cases.hpp) unless `overwrite`, else processed; a bad input fails only its
// case, any other error stops the batch and is rethrown after `on_case` has seen every case
// finished before it (report.hpp). `segment` overlaps its stages (segment/batch_runner.hpp) with
// the same rules.
#include <functional>
#include <span>

#include "medport/pipelines/batch/cases.hpp"
#include "medport/pipelines/batch/report.hpp"

namespace medport::pipelines::batch {

struct RunOptions {
  std::filesystem::path output_dir;
  bool overwrite = false;  // redo cases whose done-marker exists
};

// `process` does one case and fills in its report (seconds, facts); its status is set here.
// `on_skipped` (optional) may add facts to a skipped case's report, e.g. from its JSON.
BatchTotals run_cases(std::span<const BatchCase> cases, const RunOptions& options,
                      const std::function<void(const BatchCase&, CaseReport&)>& process,
                      const std::function<void(const CaseReport&)>& on_case,
                      const std::function<void(const BatchCase&, CaseReport&)>& on_skipped = {});

// The same with up to `group_size` consecutive cases that are not done handed to `process_group`
// at once (e.g. several queries in one network call). process_group sets every report's status
// itself (Done, or Failed with the message of that case's own bad input); an exception from it
// stops the batch. Reports still arrive in input order: a skipped case ends the group before it.
BatchTotals run_case_groups(std::span<const BatchCase> cases, const RunOptions& options, std::size_t group_size,
                            const std::function<void(std::span<const BatchCase>, std::span<CaseReport>)>& process_group,
                            const std::function<void(const CaseReport&)>& on_case,
                            const std::function<void(const BatchCase&, CaseReport&)>& on_skipped = {});

}  // namespace medport::pipelines::batch
