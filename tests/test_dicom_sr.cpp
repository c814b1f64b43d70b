// DICOM SR (TID 1500) with the echo volumes: dciodvfy reports no errors and pydicom finds the
// values under their LOINC codes and UCUM units.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "dicom_test_data.hpp"
#include "medport/dicom/sr_writer.hpp"
#include "medport/error.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::testing;
namespace data = medport::testing::dicom_data;

const char* kReadValues = R"PY(
import sys, pydicom
ds = pydicom.dcmread(sys.argv[1])
assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.22", ds.SOPClassUID  # Enhanced SR
assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
found = {}
def walk(items):
    for item in items:
        if item.ValueType == "NUM":
            code = item.ConceptNameCodeSequence[0]
            value = item.MeasuredValueSequence[0]
            unit = value.MeasurementUnitsCodeSequence[0]
            found[code.CodeValue] = (code.CodingSchemeDesignator, float(value.NumericValue), unit.CodeValue, unit.CodingSchemeDesignator)
        if "ContentSequence" in item:
            walk(item.ContentSequence)
walk(ds.ContentSequence)
print(ds.PatientID, ds.StudyInstanceUID)
for k in sorted(found): print(k, *found[k])
)PY";

TEST(DicomSr, EchoVolumesValidateAndReadBack) {
  if (!fs::exists("/usr/bin/dciodvfy")) GTEST_SKIP() << "dciodvfy (Debian dicom3tools) not installed";
  TempDir dir;
  const auto spec = data::echo_cine_spec(3, 16, 20);
  data::write_cine(dir.path() / "a2c.dcm", spec);
  auto other = data::echo_cine_spec(3, 16, 20);
  other.study_uid = spec.study_uid;
  data::write_cine(dir.path() / "a4c.dcm", other);
  const auto sr = dir.path() / "report.dcm";
  dicom::write_echo_report(sr, {dir.path() / "a2c.dcm", dir.path() / "a4c.dcm"},
                           {108.0, 65.0, 39.81481, "biplane method of disks"}, {});
  const auto v = run_program({"dciodvfy", sr.string()});
  const std::string report = v.out + v.err;
  EXPECT_NE(report.find("EnhancedSR"), std::string::npos) << report;
  std::istringstream lines(report);
  for (std::string line; std::getline(lines, line);) EXPECT_NE(line.rfind("Error", 0), 0u) << report;

  MEDPORT_RUN_PYTHON_OR_SKIP(r, kReadValues, sr.string());
  EXPECT_NE(r.out.find("MEDPORT-TEST-1 " + spec.study_uid), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("18026-5 LN 108.0 ml UCUM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("18148-7 LN 65.0 ml UCUM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("18043-0 LN 39.8148 % UCUM"), std::string::npos) << r.out;
}

TEST(DicomSr, RefusesMissingSourcesAndNonFiniteValues) {
  TempDir dir;
  EXPECT_THROW(dicom::write_echo_report(dir.path() / "r.dcm", {}, {1, 1, 0, "x"}, {}), UsageError);
  data::write_cine(dir.path() / "a.dcm", data::echo_cine_spec(1, 8, 8));
  EXPECT_THROW(dicom::write_echo_report(dir.path() / "r.dcm", {dir.path() / "a.dcm"}, {0, 0, std::nan(""), "x"}, {}),
               InputError);
  EXPECT_FALSE(fs::exists(dir.path() / "r.dcm"));
}

}  // namespace
