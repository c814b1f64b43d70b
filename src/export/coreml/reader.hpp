#pragma once
// The reading side's pieces: each backend's reader into graph::Graph.
#include "export/coreml/spec_file.hpp"
#include "medport/graph/ir.hpp"

namespace medport::coreml {

graph::Graph read_ml_program(const SpecFile& file);
graph::Graph read_neural_network(const SpecFile& file);

// The element count of a shape a file declares; a negative dimension or a count past int64 is
// refused as the file's fault ("`what` declares shape ...: too large").
std::int64_t declared_numel(const std::string& file, const Shape& shape, const std::string& what);

// What is wrong with a rank or a list length an op or layer needs (what would otherwise index past
// a vector), empty when nothing is; each reader adds where in the file it stands.
std::string rank_fault(const std::vector<std::int64_t>& shape, std::size_t at_least, const std::string& what);
std::string length_fault(std::size_t got, std::size_t expected, const std::string& what);

// Refuses a kernel size, stride or dilation below 1 (a division by zero further on).
void require_positive(const std::string& file, const std::vector<std::int64_t>& values, const std::string& what);

}  // namespace medport::coreml
