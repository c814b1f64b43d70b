#include "echo_ef_exports.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "medport/dicom/sr_writer.hpp"
#include "medport/dicom/volume.hpp"
#include "medport/error.hpp"
#include "medport/fhir/bundle.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/output_paths.hpp"
#include "medport/version.hpp"

namespace medport::cli {

void add_echo_export_flags(CLI::App& cmd, EchoExports& exports) {
  cmd.add_option("--dicom-sr", exports.dicom_sr, "also write a DICOM SR (TID 1500 measurement report) with EDV, ESV, EF");
  cmd.add_option("--dicom-source", exports.dicom_sources,
                 "DICOM image(s) the masks were segmented from: patient, study and evidence of the SR/FHIR (repeatable)");
  cmd.add_option("--fhir", exports.fhir, "also write a FHIR R4 Bundle (DiagnosticReport, LVEF/EDV/ESV Observations)");
}

void check_echo_exports(const EchoExports& exports) {
  if (!exports.dicom_sr.empty() && exports.dicom_sources.empty())
    throw UsageError("--dicom-sr needs --dicom-source FILE: the DICOM images the masks came from (patient and study)");
  for (const auto& s : exports.dicom_sources)
    if (!dicom::is_dicom_file(s)) throw InputError(s, "not a DICOM file (no DICM magic at offset 128)");
  // Every output checked before anything is measured or written: one unwritable export must not
  // leave the others behind.
  for (const auto& out : {exports.dicom_sr, exports.fhir})
    if (!out.empty()) check_output_file_writable(out);
}

void write_echo_exports(const EchoExports& exports, const EchoNumbers& n) {
  if (!exports.dicom_sr.empty()) {
    if (!std::isfinite(n.ef_percent)) throw InputError(exports.dicom_sr, "EF is undefined (EDV 0): no DICOM SR written");
    std::vector<std::filesystem::path> sources(exports.dicom_sources.begin(), exports.dicom_sources.end());
    dicom::CreatorInfo creator;
    creator.algorithm_name = "medport echo-ef";
    creator.algorithm_version = std::string(kVersion);
    dicom::write_echo_report(exports.dicom_sr, sources, {n.edv_ml, n.esv_ml, n.ef_percent, n.method}, creator);
    std::fprintf(stderr, "DICOM SR -> %s\n", exports.dicom_sr.c_str());
  }
  if (!exports.fhir.empty()) {
    fhir::Subject subject;
    if (!exports.dicom_sources.empty()) {  // patient and study of the first source
      const auto study = dicom::study_info(exports.dicom_sources.front());
      subject.study_uid = study.study_uid;
      subject.patient_id = study.patient_id;
    }
    fhir::EchoValues values{n.edv_ml, n.esv_ml, std::nullopt, n.method};
    if (std::isfinite(n.ef_percent)) values.ef_percent = n.ef_percent;
    const auto bundle = fhir::echo_bundle(values, {std::string(kVersion), "", ""}, subject);
    write_file_atomic(exports.fhir, bundle.dump(2) + "\n");
    std::fprintf(stderr, "FHIR Bundle -> %s\n", exports.fhir.c_str());
  }
}

}  // namespace medport::cli
