#include "medport/models/converter.hpp"

#include <algorithm>

#include "medport/error.hpp"
#include "medport/models/detect_family.hpp"
#include "medport/models/guided_diffusion/convert.hpp"
#include "medport/models/iris/iris.hpp"
#include "medport/models/nnunet/convert.hpp"
#include "models/checkpoint_io.hpp"

namespace medport::models {

const std::vector<FamilyConverter>& family_converters() {
  // One entry per supported family; add new families here.
  static const std::vector<FamilyConverter> converters{nnunet::nnunet_family_converter(),
                                                      guided_diffusion::guided_diffusion_family_converter(),
                                                      iris::iris_family_converter()};
  return converters;
}

ConvertReport convert(const ConvertRequest& request) {
  if (request.output.empty()) throw UsageError("an output path is required (-o OUT.onnx)");
  std::error_code ec;
  if (!std::filesystem::exists(request.source, ec)) throw InputError(request.source.string(), "no such file or folder");
  if (std::filesystem::is_directory(request.output, ec))
    throw UsageError("-o must name a file, not the folder " + request.output.string());
  if (std::filesystem::equivalent(request.source, request.output, ec))
    throw UsageError("the output would overwrite the source " + request.source.string());
  for (const auto& c : family_converters())
    if (c.claims && c.claims(request.source)) return c.convert(request);
  if (std::filesystem::is_directory(request.source, ec))
    throw InputError(request.source.string(), "folder is not laid out like any supported model (nnU-Net v2 model "
                                              "folder with plans.json, dataset.json and fold_*/, or a fold folder)");

  const FamilyDetection d = detect_family(checkpoint_tensor_infos(request.source));
  for (const auto& c : family_converters())
    if (std::find(c.families.begin(), c.families.end(), d.family) != c.families.end()) return c.convert(request);
  std::string why;
  for (const auto& e : d.evidence) why += "\n  " + e;
  if (d.family == "unknown") throw InputError(request.source.string(), "unrecognised model family:" + why);
  std::string reason = d.display_name + " checkpoints cannot be converted yet";
  if (d.family == "nnunet_v1_generic")
    reason = "nnU-Net v1 Generic_UNet checkpoints are not supported yet (see docs/NNUNET.md); retrain or port the "
             "model to nnU-Net v2";
  throw InputError(request.source.string(), reason + why);
}

}  // namespace medport::models
