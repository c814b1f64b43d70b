// The one table of model families. A new family adds one line here (detection order).
#include "medport/models/family.hpp"
#include "medport/models/guided_diffusion/family.hpp"
#include "medport/models/iris/family.hpp"
#include "medport/models/nnunet/family.hpp"
#include "medport/models/timm/timm_family.hpp"

namespace medport::models {

const std::vector<const ModelFamily*>& model_families() {
  static const std::vector<const ModelFamily*> table{
      &nnunet::family(),
      &guided_diffusion::family(),
      &iris::family(),
      &timm::timm_family(),
  };
  return table;
}

const ModelFamily* find_family(std::string_view id) {
  for (const auto* f : model_families())
    if (f->id() == id) return f;
  return nullptr;
}

std::optional<Detection> detect_family(const ckpt::WeightSource& weights) {
  for (const auto* f : model_families())
    if (auto d = f->detect(weights)) return d;
  return std::nullopt;
}

}  // namespace medport::models
