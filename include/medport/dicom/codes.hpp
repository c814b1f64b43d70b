#pragma once
// Coded concepts medport writes into DICOM SEG/SR and FHIR, with where each comes from.
//
// Segment anatomy (DICOM PS3.16; values as listed in pydicom's concept dictionary, which is
// generated from PS3.16):
//   category  (123037004, SCT, "Anatomical Structure")          CID 7150
//   LV        (87878005,  SCT, "Left Ventricle")                CID 7151 / 7152
//   MYO       (49848007,  SCT, "Left Ventricle Myocardium")     CID 12305
//   LA        (82471001,  SCT, "Left atrium")                   CID 7151
//   other labels: category and type (85756007, SCT, "Tissue")   CID 7150 / 7151
// CAMUS-style label names are recognised case-insensitively: LV / lv_endo / "left ventricle",
// MYO / myocardium / lv_epi, LA / "left atrium".
//
// Echo measurements (DICOM CID 12202 "Left Ventricle Volume Measurement", LOINC codes):
//   EDV  (18026-5, LN, "Left Ventricular End Diastolic Volume")   unit ml  (UCUM "mL")
//   ESV  (18148-7, LN, "Left Ventricular End Systolic Volume")    unit ml
//   EF   (18043-0, LN, "Left Ventricular Ejection Fraction by US") unit %
#include <string>

namespace medport::dicom {

struct CodedConcept {
  std::string value;
  std::string scheme;  // DICOM coding scheme designator: SCT, DCM, LN, UCUM
  std::string meaning;
};

struct SegmentAnatomy {
  CodedConcept category;
  CodedConcept type;
  bool known = false;  // false: the generic Tissue code
};

// Anatomy codes for a label name (see above).
SegmentAnatomy anatomy_for_label(const std::string& name);

CodedConcept lv_end_diastolic_volume();
CodedConcept lv_end_systolic_volume();
CodedConcept lv_ejection_fraction();

}  // namespace medport::dicom
