// Static shapes: ONNX shape inference over a light copy of the graph.
#include "medport/graph/static_shapes.hpp"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "medport/graph/onnx_writer.hpp"

namespace medport::graph {

namespace {

// Initializers up to this size keep their data (shape constants, scales); larger ones become
// graph inputs of the same type and dims, so inference never copies the weights.
constexpr std::size_t kKeepDataBytes = std::size_t{64} << 10;

void record(StaticShapes& shapes, const onnx::ValueInfoProto& info) {
  if (!info.type().has_tensor_type() || !info.type().tensor_type().has_shape()) return;
  std::vector<std::int64_t> dims;
  for (const auto& d : info.type().tensor_type().shape().dim()) dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  shapes[info.name()] = std::move(dims);
}

}  // namespace

StaticShapes infer_static_shapes(const Graph& graph) {
  Graph light = graph;
  light.initializers.clear();
  StaticShapes shapes;
  for (const auto& init : graph.initializers) {
    shapes[init.name] = init.tensor.shape();
    if (init.tensor.nbytes() <= kKeepDataBytes) {
      light.initializers.push_back(init);
    } else {
      Dims dims(init.tensor.shape().begin(), init.tensor.shape().end());
      light.inputs.push_back({init.name, init.tensor.dtype(), dims});
    }
  }
  WriteOptions options;
  options.check = false;
  const auto bytes = to_model_bytes(light, options);
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return shapes;
  try {
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    // Partial facts are still useful; callers that need a missing shape say so.
  }
  for (const auto& in : model.graph().input()) record(shapes, in);
  for (const auto& info : model.graph().value_info()) record(shapes, info);
  for (const auto& out : model.graph().output()) record(shapes, out);
  return shapes;
}

}  // namespace medport::graph
