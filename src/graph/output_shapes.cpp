#include "output_shapes.hpp"

#include <onnx/shape_inference/implementation.h>

#include "medport/error.hpp"

namespace medport::graph {

namespace {

// Initializers up to this size carry their data into the inference copy (shape tensors, scales);
// larger ones only their type and dims.
constexpr std::size_t kInferenceDataLimit = std::size_t{64} << 10;

}  // namespace

void fill_missing_output_shapes(onnx::ModelProto& model, const Graph& graph, bool required) {
  auto* outputs = model.mutable_graph()->mutable_output();
  bool missing = false;
  for (const auto& out : *outputs) missing = missing || !out.type().tensor_type().has_shape();
  if (!missing) return;

  onnx::ModelProto probe = model;
  for (const auto& init : graph.initializers) {
    auto* t = probe.mutable_graph()->add_initializer();
    t->set_name(init.name);
    t->set_data_type(onnx_data_type(init.tensor.dtype()));
    for (auto d : init.tensor.shape()) t->add_dims(d);
    if (init.tensor.nbytes() <= kInferenceDataLimit) {
      const auto bytes = init.tensor.contiguous_bytes();
      t->set_raw_data(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
  }
  try {
    onnx::shape_inference::InferShapes(probe, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception& e) {
    if (!required) return;
    throw UsageError("graph '" + graph.name + "': shape inference for the outputs failed (" + e.what() +
                     "); give the outputs a shape");
  }
  for (int i = 0; i < outputs->size(); ++i) {
    auto* type = (*outputs)[i].mutable_type()->mutable_tensor_type();
    if (type->has_shape()) continue;
    const auto& inferred = probe.graph().output(i).type().tensor_type();
    if (!inferred.has_shape()) {
      if (!required) continue;
      throw UsageError("graph '" + graph.name + "': the rank of output '" + (*outputs)[i].name() +
                       "' cannot be inferred; give it a shape (Builder::output)");
    }
    *type->mutable_shape() = inferred.shape();
  }
}

}  // namespace medport::graph
