#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/models/nnunet/graph.hpp"
#include "medport/models/sidecar.hpp"
#include "medport/pipelines/run.hpp"

namespace medport::pipelines {

void check_arrays_against_sidecar(const std::filesystem::path& model, const NamedArrays& arrays, const std::string& source) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(models::sidecar_path_for(model), ec)) return;
  models::Sidecar sidecar;
  try {
    sidecar = models::read_sidecar(model);
  } catch (const InputError&) {
    return;  // `run` never needed the sidecar; an old or foreign one only means no extra check
  }
  if (sidecar.family != "nnunet") return;
  std::string input;
  std::vector<std::int64_t> strides;
  try {
    const auto& m = sidecar.family_section.at("model");
    input = m.at("input_name").get<std::string>();
    strides = m.at("stride_product").get<std::vector<std::int64_t>>();
  } catch (const nlohmann::json::exception&) {
    return;  // a section this check cannot read: no check, as without a sidecar
  }
  for (const auto& [name, tensor] : arrays) {
    if (name != input || tensor.ndim() != strides.size() + 2) continue;
    if (const auto k = models::nnunet::misfit_spatial_axis(tensor.shape(), strides))
      throw InputError(source, "array '" + name + "' " + shape_string(tensor.shape()) + ": spatial axis " +
                                   std::to_string(*k) + " is " + std::to_string(tensor.shape()[*k + 2]) +
                                   ", this nnU-Net needs multiples of " + std::to_string(strides[*k]) +
                                   " (medport segment pads images itself)");
  }
}

}  // namespace medport::pipelines
