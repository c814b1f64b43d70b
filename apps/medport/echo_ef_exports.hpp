#pragma once
// `medport echo-ef` results for hospital systems: a DICOM SR (TID 1500) beside the DICOM images
// the masks came from, and a FHIR R4 Bundle.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace medport::cli {

struct EchoExports {
  std::string dicom_sr;                   // --dicom-sr OUT.dcm
  std::vector<std::string> dicom_sources; // --dicom-source FILE (repeatable)
  std::string fhir;                       // --fhir OUT.json
};

struct EchoNumbers {
  double edv_ml, esv_ml, ef_percent;  // ef NaN when EDV is 0
  std::string method;
};

void add_echo_export_flags(CLI::App& cmd, EchoExports& exports);
// UsageError for --dicom-sr without --dicom-source (checked before any work).
void check_echo_exports(const EchoExports& exports);
void write_echo_exports(const EchoExports& exports, const EchoNumbers& numbers);

}  // namespace medport::cli
