#pragma once
// The reading side's pieces: each backend's reader into graph::Graph.
#include "export/coreml/spec_file.hpp"
#include "medport/graph/ir.hpp"

namespace medport::coreml {

graph::Graph read_ml_program(const SpecFile& file);
graph::Graph read_neural_network(const SpecFile& file);

}  // namespace medport::coreml
