#pragma once
#include "medport/models/family.hpp"

namespace medport::models::guided_diffusion {

// The guided_diffusion entry of models::model_families().
const ModelFamily& family();

}  // namespace medport::models::guided_diffusion
