#include "medport/pipelines/batch/report.hpp"

#include "medport/error.hpp"

namespace medport::pipelines::batch {

void BatchTotals::add(const CaseReport& report) {
  switch (report.status) {
    case CaseReport::Status::Done:
      ++done;
      busy_seconds += report.seconds;
      break;
    case CaseReport::Status::Skipped: ++skipped; break;
    case CaseReport::Status::Failed: ++failed; break;
  }
}

bool fails_only_its_case(const std::exception& error) {
  return dynamic_cast<const InputError*>(&error) != nullptr || dynamic_cast<const UsageError*>(&error) != nullptr;
}

const char* status_name(CaseReport::Status status) {
  switch (status) {
    case CaseReport::Status::Done: return "ok";
    case CaseReport::Status::Skipped: return "skipped";
    case CaseReport::Status::Failed: return "failed";
  }
  return "?";
}

}  // namespace medport::pipelines::batch
