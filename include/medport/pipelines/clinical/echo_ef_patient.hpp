#pragma once
// `medport echo-ef` on files: finds one patient's apical LV masks (2CH/4CH x ED/ES) by name in
// folders or among given files, reads them with their spacing, and measures EDV/ESV/EF with
// measure_ejection_fraction (echo_ef.hpp).
//
//   clinical::PatientMasksRequest request;
//   request.inputs = {"patient0001/"};
//   const auto report = clinical::measure_patient(request);  // report.fields["EF_percent"]
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace medport::pipelines::clinical {

struct PatientMasksRequest {
  // Patient folders (files named *_2CH_ED_gt.*, *_4CH_ES_seg.*, ...) or mask files named so.
  std::vector<std::filesystem::path> inputs;
  // "2CH_ED" -> file: named explicitly, replacing what `inputs` found for that key.
  std::map<std::string, std::filesystem::path> files;
  int label = 1;                                // label value of the LV cavity
  std::string suffix = "any";                   // in folders: "gt", "seg" or "any" (either)
  // Pixel spacing (row, col) in mm per view ("2CH", "4CH"), replacing the files' and spacing.json's.
  std::map<std::string, std::vector<double>> spacing;
};

struct PatientEf {
  // patient, label, files, spacing_<view>_mm_row_col, then measure_ejection_fraction's fields.
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  std::string method_line;
};

// UsageError when a file's view cannot be told from its name, two files claim one view, or a
// format without spacing has none given; InputError (naming the file) for unreadable or
// implausible masks.
PatientEf measure_patient(const PatientMasksRequest& request);

}  // namespace medport::pipelines::clinical
