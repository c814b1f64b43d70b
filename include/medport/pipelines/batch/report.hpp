#pragma once
// What a batch reports per case and in total, and which errors fail one case only: a bad input
// (InputError, or a UsageError raised for one case's data) fails its case and the batch goes on;
// anything else - an EngineError (ONNX Runtime out of memory, provider failure), an internal
// error - stops the batch, and the cases finished before it stay as they are.
#include <cstddef>
#include <exception>
#include <string>

#include <nlohmann/json.hpp>

namespace medport::pipelines::batch {

struct CaseReport {
  enum class Status { Done, Skipped, Failed };
  std::string case_name;
  Status status = Status::Done;
  std::string message;   // the error of a failed case
  double seconds = 0.0;  // a finished case's own work
  nlohmann::json facts = nlohmann::json::object();  // the pipeline's own per-case facts (e.g. quality)
};

struct BatchTotals {
  std::size_t done = 0, skipped = 0, failed = 0;
  double busy_seconds = 0.0;  // summed over finished cases
  void add(const CaseReport& report);
};

// True for the errors that fail only their own case.
bool fails_only_its_case(const std::exception& error);

// "ok" | "skipped" | "failed", as batch summaries spell them.
const char* status_name(CaseReport::Status status);

}  // namespace medport::pipelines::batch
