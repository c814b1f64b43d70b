#include "medport/fhir/bundle.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "medport/dicom/codes.hpp"

namespace medport::fhir {
namespace {

using Json = nlohmann::json;
constexpr const char* kLoinc = "http://loinc.org";
constexpr const char* kUcum = "http://unitsofmeasure.org";
constexpr const char* kSnomed = "http://snomed.info/sct";

std::string now_instant() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

Json coding(const char* system, const std::string& code, const std::string& display) {
  return {{"system", system}, {"code", code}, {"display", display}};
}

Json loinc(const dicom::CodedConcept& c) { return {{"coding", Json::array({coding(kLoinc, c.value, c.meaning)})}, {"text", c.meaning}}; }

Json quantity(double value, const std::string& ucum) {
  return {{"value", value}, {"unit", ucum}, {"system", kUcum}, {"code", ucum}};
}

// The parts every bundle shares: the device, report, observations and provenance.
class BundleBuilder {
 public:
  BundleBuilder(const DeviceInfo& device, const Subject& subject) : subject_(subject), issued_(now_instant()) {
    device_url_ = new_urn_uuid();
    Json versions = Json::array({{{"type", {{"text", "software"}}}, {"value", device.software_version.empty() ? "unknown" : device.software_version}}});
    if (!device.model_version.empty())
      versions.push_back({{"type", {{"text", "model " + device.model_name}}}, {"value", device.model_version}});
    add(device_url_, {{"resourceType", "Device"},
                      {"status", "active"},
                      {"manufacturer", "medport"},
                      {"deviceName", Json::array({{{"name", "medport"}, {"type", "manufacturer-name"}},
                                                  {{"name", device.model_name.empty() ? "medport" : device.model_name},
                                                   {"type", "model-name"}}})},
                      {"version", versions}});
  }

  std::string observation(const Json& code, const Json& value, const std::optional<Json>& body_site = std::nullopt,
                          const std::string& note = {}) {
    Json o{{"resourceType", "Observation"},
           {"status", "final"},
           {"category", Json::array({{{"coding", Json::array({coding("http://terminology.hl7.org/CodeSystem/observation-category",
                                                                     "imaging", "Imaging")})}}})},
           {"code", code},
           {"issued", issued_},
           {"device", {{"reference", device_url_}}},
           {"valueQuantity", value}};
    if (body_site) o["bodySite"] = *body_site;
    if (!note.empty()) o["note"] = Json::array({{{"text", note}}});
    put_subject(o);
    const std::string url = new_urn_uuid();
    add(url, o);
    results_.push_back(url);
    return url;
  }

  void report(const std::string& text, const std::string& conclusion) {
    Json r{{"resourceType", "DiagnosticReport"},
           {"status", "final"},
           {"category", Json::array({{{"coding", Json::array({coding("http://terminology.hl7.org/CodeSystem/v2-0074", "IMG",
                                                                     "Diagnostic Imaging")})}}})},
           {"code", {{"coding", Json::array({coding(kLoinc, "18748-4", "Diagnostic imaging study")})}, {"text", text}}},
           {"issued", issued_},
           {"result", Json::array()}};
    for (const auto& url : results_) r["result"].push_back({{"reference", url}});
    if (!conclusion.empty()) r["conclusion"] = conclusion;
    if (!subject_.study_uid.empty())
      r["imagingStudy"] = Json::array({{{"identifier", {{"system", "urn:dicom:uid"}, {"value", "urn:oid:" + subject_.study_uid}}},
                                        {"display", "DICOM study " + subject_.study_uid}}});
    put_subject(r);
    report_url_ = new_urn_uuid();
    add(report_url_, r);
  }

  Json finish() {
    Json targets = Json::array({{{"reference", report_url_}}});
    for (const auto& url : results_) targets.push_back({{"reference", url}});
    add(new_urn_uuid(), {{"resourceType", "Provenance"},
                         {"target", targets},
                         {"recorded", issued_},
                         {"agent", Json::array({{{"type", {{"coding", Json::array({coding(
                                                              "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                                              "author", "Author")})}}},
                                                 {"who", {{"reference", device_url_}}}}})}});
    return {{"resourceType", "Bundle"}, {"type", "collection"}, {"timestamp", issued_}, {"entry", entries_}};
  }

 private:
  void add(const std::string& url, Json resource) { entries_.push_back({{"fullUrl", url}, {"resource", std::move(resource)}}); }
  void put_subject(Json& resource) const {
    if (!subject_.patient_id.empty())
      resource["subject"] = {{"identifier", {{"value", subject_.patient_id}}}, {"display", "DICOM PatientID " + subject_.patient_id}};
  }

  Subject subject_;
  std::string issued_;
  std::string device_url_, report_url_;
  std::vector<std::string> results_;
  Json entries_ = Json::array();
};

}  // namespace

std::string new_urn_uuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<std::uint64_t> dist;
  std::uint64_t hi = dist(rng), lo = dist(rng);
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[64];
  std::snprintf(buf, sizeof buf, "urn:uuid:%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32), static_cast<unsigned long long>((hi >> 16) & 0xFFFF),
                static_cast<unsigned long long>(hi & 0xFFFF), static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

nlohmann::json echo_bundle(const EchoValues& v, const DeviceInfo& device, const Subject& subject) {
  BundleBuilder b(device, subject);
  if (v.ef_percent) b.observation(loinc(dicom::lv_ejection_fraction()), quantity(*v.ef_percent, "%"), std::nullopt, v.method);
  b.observation(loinc(dicom::lv_end_diastolic_volume()), quantity(v.edv_ml, "mL"), std::nullopt, v.method);
  b.observation(loinc(dicom::lv_end_systolic_volume()), quantity(v.esv_ml, "mL"), std::nullopt, v.method);
  char conclusion[128];
  if (v.ef_percent)
    std::snprintf(conclusion, sizeof conclusion, "LVEF %.1f %% (EDV %.0f mL, ESV %.0f mL), %s", *v.ef_percent, v.edv_ml,
                  v.esv_ml, v.method.c_str());
  else
    std::snprintf(conclusion, sizeof conclusion, "EDV %.0f mL, ESV %.0f mL, %s", v.edv_ml, v.esv_ml, v.method.c_str());
  b.report("Echocardiography LV volumes and ejection fraction (medport echo-ef)", conclusion);
  return b.finish();
}

nlohmann::json segmentation_bundle(const std::vector<CaseVolumes>& cases, const DeviceInfo& device, const Subject& subject) {
  BundleBuilder b(device, subject);
  for (const auto& c : cases)
    for (const auto& l : c.labels) {
      const auto anatomy = dicom::anatomy_for_label(l.label);
      const std::string what = std::string(l.is_area ? "Segmented area" : "Segmented volume") + " of " + l.label;
      std::optional<Json> site;
      if (anatomy.known) site = Json{{"coding", Json::array({coding(kSnomed, anatomy.type.value, anatomy.type.meaning)})}};
      b.observation({{"text", what}}, quantity(l.value, l.is_area ? "mm2" : "mL"), site, "case " + c.case_name);
    }
  b.report("Automatic segmentation volumes (medport segment)", std::to_string(cases.size()) + " case(s)");
  return b.finish();
}

}  // namespace medport::fhir
