// The CLI's hospital outputs: echo-ef's DICOM SR and FHIR Bundle (checked by dciodvfy and the
// HL7 FHIR validator), DICOM flags, and exit codes for bad DICOM input.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "dicom_test_data.hpp"
#include "medport/imaging/image_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport::testing;
namespace data = medport::testing::dicom_data;

// The HL7 validator jars fetched by tools/fhir-validator/fetch.sh (setup.sh test), or none.
fs::path validator_jars() {
  const fs::path jars = source_dir() / "third_party" / "fhir-validator";
  return fs::exists(jars / ".complete") ? jars : fs::path();
}

CommandResult validate_fhir(const fs::path& file) {
  return run_program({"java", "-cp", (validator_jars() / "*").string(),
                      (source_dir() / "tools" / "fhir-validator" / "Validate.java").string(), file.string()});
}

class EchoExports : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto r = run_medport({"phantom", "-o", (dir_.path() / "ph").string(), "--patients", "1", "--seed", "7"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    patient_ = dir_.path() / "ph" / "phantom0001";
    data::write_cine(dir_.path() / "a4c.dcm", data::echo_cine_spec(3, 16, 20));
  }
  TempDir dir_;
  fs::path patient_;
};

TEST_F(EchoExports, SrAndFhirBundleValidate) {
  const auto sr = dir_.path() / "ef.dcm", bundle = dir_.path() / "ef.fhir.json", json = dir_.path() / "ef.json";
  const auto r = run_medport({"echo-ef", patient_.string(), "--suffix", "gt", "--json", json.string(), "--dicom-sr",
                              sr.string(), "--dicom-source", (dir_.path() / "a4c.dcm").string(), "--fhir", bundle.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto ef = read_json(json);

  if (fs::exists("/usr/bin/dciodvfy")) {
    const auto v = run_program({"dciodvfy", sr.string()});
    std::istringstream lines(v.out + v.err);
    for (std::string line; std::getline(lines, line);) EXPECT_NE(line.rfind("Error", 0), 0u) << v.out << v.err;
  }

  const auto b = read_json(bundle);
  ASSERT_EQ(b["resourceType"], "Bundle");
  std::map<std::string, double> values;
  int reports = 0, devices = 0, provenance = 0;
  for (const auto& e : b["entry"]) {
    const auto& res = e["resource"];
    if (res["resourceType"] == "Observation") {
      ASSERT_EQ(res["code"]["coding"][0]["system"], "http://loinc.org");
      EXPECT_EQ(res["valueQuantity"]["system"], "http://unitsofmeasure.org");
      values[res["code"]["coding"][0]["code"].get<std::string>() + " " + res["valueQuantity"]["code"].get<std::string>()] =
          res["valueQuantity"]["value"].get<double>();
      EXPECT_EQ(res["subject"]["identifier"]["value"], "MEDPORT-TEST-1");
    }
    reports += res["resourceType"] == "DiagnosticReport";
    devices += res["resourceType"] == "Device";
    provenance += res["resourceType"] == "Provenance";
  }
  EXPECT_EQ(reports, 1);
  EXPECT_EQ(devices, 1);
  EXPECT_EQ(provenance, 1);
  EXPECT_DOUBLE_EQ(values["18026-5 mL"], ef["EDV_mL"].get<double>());
  EXPECT_DOUBLE_EQ(values["18148-7 mL"], ef["ESV_mL"].get<double>());
  EXPECT_DOUBLE_EQ(values["18043-0 %"], ef["EF_percent"].get<double>());

  if (validator_jars().empty()) GTEST_SKIP() << "HL7 FHIR validator not fetched (tools/fhir-validator/fetch.sh)";
  const auto v = validate_fhir(bundle);
  ASSERT_NE(v.exit_code, -1) << "java not found";
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("VALID"), std::string::npos) << v.out << v.err;
}

TEST_F(EchoExports, ValidatorRejectsABrokenBundle) {
  if (validator_jars().empty()) GTEST_SKIP() << "HL7 FHIR validator not fetched (tools/fhir-validator/fetch.sh)";
  const auto bundle = dir_.path() / "ef.fhir.json";
  ASSERT_EQ(run_medport({"echo-ef", patient_.string(), "--suffix", "gt", "--fhir", bundle.string()}).exit_code, 0);
  auto b = read_json(bundle);
  for (auto& e : b["entry"])
    if (e["resource"]["resourceType"] == "Observation") e["resource"]["status"] = "done";  // not in the required value set
  std::ofstream(bundle) << b.dump();
  const auto v = validate_fhir(bundle);
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
}

TEST_F(EchoExports, SrNeedsItsDicomSource) {
  auto r = run_medport({"echo-ef", patient_.string(), "--suffix", "gt", "--dicom-sr", (dir_.path() / "x.dcm").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_medport({"echo-ef", patient_.string(), "--suffix", "gt", "--dicom-sr", (dir_.path() / "x.dcm").string(),
                   "--dicom-source", (patient_ / "phantom0001_2CH_ED.npy").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "x.dcm"));
}

}  // namespace

namespace {

TEST(SegmentFhir, VolumesBundleValidates) {
  if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
  TempDir dir;
  const auto onnx = dir / "phantom2d.onnx";
  auto r = run_medport({"convert", (source_dir() / "models" / "phantom2d").string(), "-o", onnx.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"phantom", "-o", (dir / "ph").string(), "--patients", "1", "--seed", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bundle = dir / "seg.fhir.json";
  r = run_medport({"segment", onnx.string(), (dir / "ph" / "phantom0001" / "phantom0001_2CH_ED.png").string(), "-o",
                   (dir / "out").string(), "--spacing", "0.3,0.3", "--fhir", bundle.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto summary = read_json(dir / "out" / "phantom0001_2CH_ED.json");
  const auto b = read_json(bundle);
  std::map<std::string, double> areas;
  for (const auto& e : b["entry"])
    if (e["resource"]["resourceType"] == "Observation") {
      const auto& o = e["resource"];
      EXPECT_EQ(o["valueQuantity"]["code"], "mm2");
      areas[o["code"]["text"].get<std::string>()] = o["valueQuantity"]["value"].get<double>();
      if (o["code"]["text"] == "Segmented area of LV") {
        EXPECT_EQ(o["bodySite"]["coding"][0]["code"], "87878005");
      }
    }
  for (const auto& l : summary["labels"])
    EXPECT_DOUBLE_EQ(areas.at("Segmented area of " + l["name"].get<std::string>()), l["area_mm2"].get<double>());
  if (validator_jars().empty()) GTEST_SKIP() << "HL7 FHIR validator not fetched (tools/fhir-validator/fetch.sh)";
  const auto v = validate_fhir(bundle);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace

namespace {

// echo-ef reads masks through the same image layer: DICOM masks (spacing from the ultrasound
// regions) give the EF of the same masks as npy with the spacing given.
TEST(EchoEfDicom, DicomMasksGiveTheSameVolumes) {
  TempDir dir;
  ASSERT_EQ(run_medport({"phantom", "-o", (dir / "ph").string(), "--patients", "1", "--seed", "9"}).exit_code, 0);
  const auto patient = dir / "ph" / "phantom0001";
  std::vector<std::string> dicom_args{"echo-ef"}, npy_args{"echo-ef", "--json", (dir / "npy.json").string()};
  for (const std::string view : {"2CH", "4CH"}) {
    const auto spacing = read_json(patient / "spacing.json")[view];
    for (const std::string phase : {"ED", "ES"}) {
      const auto npy = patient / ("phantom0001_" + view + "_" + phase + "_gt.npy");
      const auto mask = medport::imaging::read_image(npy);
      auto spec = data::echo_cine_spec(1, static_cast<int>(mask.shape[1]), static_cast<int>(mask.shape[2]));
      spec.pixels.assign(mask.data.begin(), mask.data.end());
      spec.delta_y_cm = spacing[0].get<double>() / 10.0;
      spec.delta_x_cm = spacing[1].get<double>() / 10.0;
      const auto file = dir / (view + "_" + phase + ".dcm");
      data::write_cine(file, spec);
      const std::string flag = std::string("--a") + view[0] + "c-" + (phase == "ED" ? "ed" : "es");
      dicom_args.insert(dicom_args.end(), {flag, file.string()});
      npy_args.insert(npy_args.end(), {flag, npy.string()});
      if (phase == "ED") {
        char text[80];
        std::snprintf(text, sizeof text, "%.17g,%.17g", spacing[0].get<double>(), spacing[1].get<double>());
        npy_args.insert(npy_args.end(), {std::string("--spacing-a") + view[0] + "c", text});
      }
    }
  }
  dicom_args.insert(dicom_args.end(), {"--json", (dir / "dicom.json").string()});
  auto r = run_medport(dicom_args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport(npy_args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto a = read_json(dir / "dicom.json"), b = read_json(dir / "npy.json");
  EXPECT_EQ(a["EDV_mL"], b["EDV_mL"]);
  EXPECT_EQ(a["ESV_mL"], b["ESV_mL"]);
  EXPECT_NEAR(a["EF_percent"].get<double>(), b["EF_percent"].get<double>(), 1e-9);
  EXPECT_NEAR(a["EDV_mL_unrounded"].get<double>(), b["EDV_mL_unrounded"].get<double>(), 1e-3);
}

}  // namespace
