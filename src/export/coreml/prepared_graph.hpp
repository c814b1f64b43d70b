#pragma once
// A graph made ready for a Core ML backend: input dims fixed as asked (symbolic only where the
// model stays flexible), static shapes of every value, and the shape arithmetic that fixed dims
// make constant folded away (evaluated once with ONNX Runtime on a small side graph), so the
// backends see constant reshape targets, slice bounds and scales.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "medport/export/coreml.hpp"
#include "medport/graph/ir.hpp"
#include "medport/graph/static_shapes.hpp"

namespace medport::coreml {

struct PreparedGraph {
  graph::Graph graph;  // a shallow copy (weights shared) with the input dims applied
  graph::StaticShapes shapes;
  std::map<std::string, DType> dtypes;
  std::map<std::string, Tensor> folded;   // values computed at export time
  std::set<std::string> folded_nodes;     // nodes whose outputs are all folded
  std::map<std::string, const graph::Initializer*> initializers;
  // value -> the node inputs reading it (node, input index)
  std::map<std::string, std::vector<std::pair<const graph::Node*, std::size_t>>> uses;

  // A constant value (initializer or folded), nullopt otherwise.
  std::optional<Tensor> constant(const std::string& value) const;
  bool is_constant(const std::string& value) const;
  // Static dims (-1 unknown); nullopt when the rank is unknown.
  std::optional<std::vector<std::int64_t>> shape(const std::string& value) const;
  DType dtype(const std::string& value) const;
  bool is_graph_output(const std::string& value) const;
};

// `source` names the graph in errors. Inputs with symbolic dims must have an entry in `shapes`
// (UsageError otherwise); `allow_flexible` false refuses flexible entries (InputError).
PreparedGraph prepare_graph(const graph::Graph& graph, const std::map<std::string, InputShape>& shapes,
                            bool allow_flexible, const std::string& source);

// A hint that names the graph and what is missing, for InputError messages.
std::string graph_label(const graph::Graph& graph);

}  // namespace medport::coreml
