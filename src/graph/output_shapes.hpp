#pragma once
// The onnx 1.12 checker wants a shape on every graph output. Outputs declared without one get
// the shape ONNX shape inference derives (dims it cannot name stay unnamed).
#include <onnx/onnx_pb.h>

#include "medport/graph/ir.hpp"

namespace medport::graph {

// `model` holds the graph skeleton (no initializers yet); `graph` supplies the initializers.
// With `required`, throws UsageError naming an output whose rank cannot be inferred; otherwise
// leaves such outputs without a shape (ONNX Runtime accepts that, the checker does not).
void fill_missing_output_shapes(onnx::ModelProto& model, const Graph& graph, bool required);

}  // namespace medport::graph
