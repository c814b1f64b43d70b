#pragma once
// A batch of `medport segment` cases. With overlap (the default) the stages run on three threads
// like a production line: case i+1 is read and preprocessed while case i is in the network and
// case i-1 is exported and written. At most `max_cases_in_flight` cases are held in memory at
// once. Results are the same files as running the cases one after another; reports arrive in
// input order either way. The rules are those of every batch (pipelines/batch): skip done cases,
// a bad input fails its case, an engine failure stops the batch with the cases before it written.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <span>
#include <string>

#include "medport/pipelines/batch/report.hpp"
#include "medport/pipelines/segment/case_runner.hpp"

namespace medport::segment {

struct BatchOptions {
  bool overwrite = false;                // redo cases whose summary exists (else they are skipped)
  bool overlap = true;                   // false: each case's stages in a row on the calling thread
  std::size_t max_cases_in_flight = 3;   // overlap only: cases read but not yet written (>= 1)
};

using CaseReport = pipelines::batch::CaseReport;
using BatchTotals = pipelines::batch::BatchTotals;

// Runs every case. `on_case` is called once per case, in input order, never concurrently (with
// overlap it runs on the writer thread). A case's bad input is reported and the batch goes on;
// any other exception (an EngineError from the network) stops the batch: the cases before the
// one that failed are still written and reported, nothing after it is, and the exception is
// rethrown once the threads have ended.
BatchTotals run_batch(std::span<const LoadedModel> models, std::span<const CaseInput> cases, const CaseOptions& options,
                      const BatchOptions& batch, const std::function<void(const CaseReport&)>& on_case);

// What `medport segment` says at the end of a batch: "segmented N case(s), skipped S already
// done, F failed in 1m05s (0.42 s per case) -> OUTDIR" (the time per case only when a case was
// segmented), then "  failed: <message>" for each failure.
std::string batch_summary(const BatchTotals& totals, double wall_seconds, const std::filesystem::path& output_dir,
                          std::span<const std::string> failures);

}  // namespace medport::segment
