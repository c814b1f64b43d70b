#pragma once
// JSON view of plain-data pickled values (plans, dataset.json, configs stored in checkpoints).
#include <cstddef>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/value.hpp"

namespace medport::ckpt {

struct ValueJsonLimits {
  int max_depth = 64;              // deeper nesting is cut with "..."
  std::size_t max_nodes = 200000;  // a pickle may share one sub-object everywhere; cap the expansion
};

// Dicts (keys as their path form), lists, tuples, sets, numbers, strings, bools, None and numpy
// scalars map to JSON; anything else (tensors, objects, globals) becomes its repr() string.
// Past the limits, the remaining values become "...".
nlohmann::ordered_json value_to_json(const Value& value, const ValueJsonLimits& limits = {});

}  // namespace medport::ckpt
