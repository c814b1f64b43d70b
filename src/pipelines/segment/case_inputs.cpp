// What `medport segment` checks of its inputs and models before a batch starts.
#include <system_error>

#include "medport/dicom/volume.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/pipelines/segment/case_runner.hpp"

namespace medport::segment {

namespace fs = std::filesystem;

void check_case_inputs(std::span<const fs::path> inputs, bool preprocessed, const std::string& file_ending) {
  for (const auto& in : inputs) {
    std::error_code ec;
    const auto status = fs::status(in, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) throw InputError(in.string(), ec.message());
    if (!fs::is_directory(status)) continue;
    bool any = false;
    if (preprocessed) {
      for (const auto& entry : fs::directory_iterator(in, ec))
        any = any || (entry.is_regular_file(ec) && entry.path().extension() == ".npy");
    } else {
      any = !imaging::group_cases(in, file_ending).empty() || dicom::is_dicom_folder(in);
    }
    if (!any)
      throw InputError(in.string(), preprocessed ? "holds no .npy files to segment"
                                                 : "holds no <case>_XXXX" + file_ending + " files to segment");
  }
}

void check_ensemble(std::span<const LoadedModel> models) {
  for (const auto& m : models)
    if (m.info.has_regions != models.front().info.has_regions ||
        m.info.regions_class_order != models.front().info.regions_class_order)
      throw InputError(m.info.sidecar_path.string(), "--ensemble models must share the first model's labels/regions");
}

}  // namespace medport::segment
