#pragma once
// FHIR R4 results as a Bundle (type "collection") of JSON resources:
//   Device            medport, its version and the model (name and version/sha256)
//   DiagnosticReport  LOINC 18748-4 "Diagnostic imaging study", status final, result -> Observations
//   Observation       one per value, status final, category imaging, valueQuantity in UCUM;
//                     echo: LVEF 18043-0 (%), EDV 18026-5 (mL), ESV 18148-7 (mL) (LOINC, DICOM CID 12202);
//                     segmentation: one volume (mL) or area (mm2) per label, bodySite = the label's
//                     SNOMED CT code (dicom/codes.hpp) when known
//   Provenance        target = report and observations, agent = the Device (author)
// Entries reference each other by "urn:uuid:" full URLs.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace medport::fhir {

struct DeviceInfo {
  std::string software_version;  // medport's
  std::string model_name;        // e.g. the ONNX file or model folder
  std::string model_version;     // e.g. its sha256
};

struct Subject {
  std::string patient_id;  // DICOM PatientID when known (Patient identifier); empty: no subject
  std::string study_uid;   // DICOM StudyInstanceUID when known (an ImagingStudy identifier)
};

struct EchoValues {
  double edv_ml = 0, esv_ml = 0;
  std::optional<double> ef_percent;  // absent when EDV is 0
  std::string method;
};

struct LabelVolume {
  std::string label;
  double value = 0;  // mL (3D) or mm2 (2D)
  bool is_area = false;
};

struct CaseVolumes {
  std::string case_name;
  std::vector<LabelVolume> labels;
};

nlohmann::json echo_bundle(const EchoValues& values, const DeviceInfo& device, const Subject& subject = {});
nlohmann::json segmentation_bundle(const std::vector<CaseVolumes>& cases, const DeviceInfo& device,
                                   const Subject& subject = {});

// A random (version 4) UUID as "urn:uuid:...".
std::string new_urn_uuid();

}  // namespace medport::fhir
