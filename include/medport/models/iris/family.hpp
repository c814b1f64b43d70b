#pragma once
#include "medport/models/family.hpp"

namespace medport::models::iris {

// The iris entry of models::model_families().
const ModelFamily& family();

}  // namespace medport::models::iris
