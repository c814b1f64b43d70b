#include "medport/dicom/sr_writer.hpp"

#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/dsrdoc.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "dcmtk_support.hpp"
#include "medport/dicom/codes.hpp"
#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"
#include "uids.hpp"

namespace medport::dicom {
namespace {

void check(const OFCondition& status, const std::string& path, const std::string& what) {
  if (status.bad()) throw InputError(path, "cannot write DICOM SR: " + what + " (" + status.text() + ")");
}

DSRCodedEntryValue coded(const CodedConcept& c) { return DSRCodedEntryValue(c.value.c_str(), c.scheme.c_str(), c.meaning.c_str()); }

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

void write_echo_report(const std::filesystem::path& path, const std::vector<std::filesystem::path>& sources,
                       const EchoMeasurements& values, const CreatorInfo& creator) {
  detail::register_codecs();
  const std::string out = path.string();
  if (sources.empty()) throw UsageError("a DICOM SR needs the DICOM images the masks came from (patient and study)");
  if (!std::isfinite(values.edv_ml) || !std::isfinite(values.esv_ml) || !std::isfinite(values.ef_percent))
    throw InputError(out, "EDV, ESV and EF must be finite numbers to be reported");

  std::vector<std::unique_ptr<DcmFileFormat>> loaded;
  for (const auto& s : sources) {
    loaded.push_back(std::make_unique<DcmFileFormat>());
    detail::load_file(*loaded.back(), s.string(), true);
  }
  DcmDataset& first = *loaded.front()->getDataset();
  const std::string first_file = sources.front().string();

  TID1500_MeasurementReport report(CMR_CID7021::ImagingMeasurementReport);
  check(report.setLanguage(CID5000_Languages(CID5000_Languages::English)), out, "language");
  check(report.getObservationContext().addDeviceObserver(detail::new_uid().c_str(), creator.algorithm_name.c_str(),
                                                         creator.manufacturer.c_str(), creator.model_name.c_str()),
        out, "observer");
  check(report.addProcedureReported(DSRCodedEntryValue("40701008", "SCT", "Echocardiography"), OFFalse), out,
        "procedure");
  check(report.getImageLibrary().createNewImageLibrary(), out, "image library");
  check(report.getImageLibrary().addImageGroup(), out, "image library group");
  for (auto& f : loaded) check(report.getImageLibrary().addImageEntry(*f->getDataset(), TID1600_ImageLibrary::withoutDescriptors), out, "image entry");

  check(report.addIndividualMeasurements(), out, "measurement group");
  auto& group = report.getIndividualMeasurements();
  check(group.setTrackingIdentifier("LV volumes (medport echo-ef)"), out, "tracking identifier");
  check(group.setTrackingUniqueIdentifier(detail::new_uid().c_str()), out, "tracking UID");
  check(group.setFinding(DSRCodedEntryValue("87878005", "SCT", "Left Ventricle")), out, "finding");
  const DSRCodedEntryValue ml("ml", "UCUM", "milliliter"), percent("%", "UCUM", "percent");
  using Measurement = CID7469_GenericIntensityAndSizeMeasurements;
  using Value = TID1500_MeasurementReport::TID1501_Measurements::MeasurementValue;
  using Unit = CID7181_AbstractMultiDimensionalImageModelComponentUnits;
  check(group.addMeasurement(Measurement(coded(lv_end_diastolic_volume())), Value(number(values.edv_ml).c_str(), Unit(ml))),
        out, "EDV");
  check(group.addMeasurement(Measurement(coded(lv_end_systolic_volume())), Value(number(values.esv_ml).c_str(), Unit(ml))),
        out, "ESV");
  check(group.addMeasurement(Measurement(coded(lv_ejection_fraction())), Value(number(values.ef_percent).c_str(), Unit(percent))),
        out, "EF");

  DSRDocument document;
  check(document.setTreeFromRootTemplate(report, OFTrue /* expand included templates */), out, "content tree");
  const std::string study = detail::require_string(first, DCM_StudyInstanceUID, first_file);
  check(document.createNewSeriesInStudy(study.c_str()), out, "series");
  auto copy = [&](const DcmTagKey& tag, auto setter) {
    const std::string value = detail::find_string(first, tag).value_or("");
    check((document.*setter)(value.c_str(), OFTrue), out, detail::attribute_name(tag));
  };
  copy(DCM_PatientName, &DSRDocument::setPatientName);
  copy(DCM_PatientID, &DSRDocument::setPatientID);
  copy(DCM_PatientBirthDate, &DSRDocument::setPatientBirthDate);
  copy(DCM_PatientSex, &DSRDocument::setPatientSex);
  copy(DCM_StudyDate, &DSRDocument::setStudyDate);
  copy(DCM_StudyTime, &DSRDocument::setStudyTime);
  copy(DCM_StudyID, &DSRDocument::setStudyID);
  copy(DCM_AccessionNumber, &DSRDocument::setAccessionNumber);
  copy(DCM_ReferringPhysicianName, &DSRDocument::setReferringPhysicianName);
  check(document.setSeriesDescription(("medport echo-ef: " + values.method).substr(0, 64).c_str()), out, "description");
  check(document.setManufacturer(creator.manufacturer.c_str()), out, "manufacturer");
  check(document.setManufacturerModelName(creator.model_name.c_str()), out, "model name");
  check(document.setSeriesNumber("301"), out, "series number");
  check(document.setInstanceNumber("1"), out, "instance number");
  for (auto& f : loaded) check(document.getCurrentRequestedProcedureEvidence().addItem(*f->getDataset()), out, "evidence");

  DcmFileFormat format;
  check(document.write(*format.getDataset()), out, "dataset");
  if (!creator.algorithm_version.empty())
    check(format.getDataset()->putAndInsertString(DCM_SoftwareVersions, creator.algorithm_version.substr(0, 64).c_str()), out,
          "software version");
  AtomicFile file(path, ".dcm");
  file.release_handle();
  check(format.saveFile(file.temp_path().c_str(), EXS_LittleEndianExplicit), out, "save");
  file.commit();
}

}  // namespace medport::dicom
