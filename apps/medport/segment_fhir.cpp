#include "segment_fhir.hpp"

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/fhir/bundle.hpp"
#include "medport/pipelines/batch/cases.hpp"
#include "medport/util/file_io.hpp"
#include "medport/version.hpp"

namespace medport::cli {

std::size_t write_segmentation_fhir(const std::filesystem::path& out, const std::filesystem::path& output_dir,
                                    const std::vector<std::string>& case_names) {
  std::vector<fhir::CaseVolumes> cases;
  fhir::DeviceInfo device{std::string(kVersion), "", ""};
  for (const auto& name : case_names) {
    const auto path = pipelines::batch::done_marker(output_dir, name);
    if (!std::filesystem::exists(path)) continue;
    const auto bytes = read_file(path, std::size_t{64} << 20);
    const auto summary = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                               nullptr, false);
    if (summary.is_discarded() || !summary.contains("labels")) throw InputError(path.string(), "not a segment summary");
    if (device.model_version.empty() && summary.contains("models") && !summary["models"].empty()) {
      const auto& m = summary["models"][0];
      device.model_name = std::filesystem::path(m.value("onnx", "")).filename().string();
      device.model_version = "sha256:" + m.value("onnx_sha256", "");
    }
    fhir::CaseVolumes c{name, {}};
    for (const auto& l : summary["labels"]) {
      if (l.contains("volume_ml")) c.labels.push_back({l["name"].get<std::string>(), l["volume_ml"].get<double>(), false});
      else if (l.contains("area_mm2")) c.labels.push_back({l["name"].get<std::string>(), l["area_mm2"].get<double>(), true});
    }
    cases.push_back(std::move(c));
  }
  write_file_atomic(out, fhir::segmentation_bundle(cases, device).dump(2) + "\n");
  return cases.size();
}

}  // namespace medport::cli
