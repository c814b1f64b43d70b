#pragma once
// JSON view of plain-data pickled values (plans, dataset.json, configs stored in checkpoints).
#include <nlohmann/json.hpp>

#include "medport/checkpoint/value.hpp"

namespace medport::ckpt {

// Dicts (keys as their path form), lists, tuples, sets, numbers, strings, bools, None and numpy
// scalars map to JSON; anything else (tensors, objects, globals) becomes its repr() string.
// Nesting beyond `max_depth` is cut with "...".
nlohmann::ordered_json value_to_json(const Value& value, int max_depth = 64);

}  // namespace medport::ckpt
