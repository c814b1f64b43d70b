#pragma once
#include "medport/models/family.hpp"

namespace medport::models::nnunet {

// The nnunet entry of models::model_families().
const ModelFamily& family();

}  // namespace medport::models::nnunet
