#pragma once
// Static shapes of every value of a graph, from ONNX shape inference with data propagation
// (Shape -> Gather -> Concat -> Reshape chains resolve when the inputs' dims are fixed). Weights
// are not copied: large initializers enter the inference as typed inputs.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "medport/graph/ir.hpp"

namespace medport::graph {

// Dims per value: -1 for a dim inference cannot tell. Values whose rank is unknown are absent.
using StaticShapes = std::map<std::string, std::vector<std::int64_t>>;

// Partial facts when inference stops early (it never throws for an unsupported op).
StaticShapes infer_static_shapes(const Graph& graph);

}  // namespace medport::graph
