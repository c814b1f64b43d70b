#pragma once
// Reverse-mode differentiation of a graph::Graph, emitted as more ONNX nodes: the result is a
// graph with the same inputs that outputs the loss (and, optionally, the forward outputs) plus
// "<grad_prefix><input>" for every requested input, so ONNX Runtime computes the gradient.
//
//   graph::DifferentiateOptions o;
//   graph::Graph g = graph::differentiate(forward, "loss", {"embeddings"}, o);
//   // outputs: loss, <forward outputs>, grad_embeddings
//
// Only nodes on a path from a requested input to the loss are differentiated; weights and other
// initializers get no gradient unless named in `wrt`. The loss may have any shape: its seed is
// ones, i.e. the gradient of the sum of its elements. Unsupported ops raise UsageError naming the
// op and node. See docs/GRAPH.md ("Reverse-mode differentiation") for the op list.
#include <string>
#include <vector>

#include "medport/graph/ir.hpp"

namespace medport::graph {

struct DifferentiateOptions {
  bool keep_forward_outputs = true;  // false: the loss and the gradients only
  std::string grad_prefix = "grad_";
};

// `loss_output`: a value of `forward` (usually one of its outputs). `wrt`: graph inputs or
// initializers, float typed. Throws UsageError for unknown names, non-float wrt values and
// ops without a vector-Jacobian product here.
Graph differentiate(const Graph& forward, const std::string& loss_output, const std::vector<std::string>& wrt,
                    const DifferentiateOptions& options = {});

// Op types differentiate() can propagate gradients through (sorted).
std::vector<std::string> differentiable_op_types();

}  // namespace medport::graph
