#pragma once
// nnU-Net v2 checkpoint -> OUT.onnx + OUT.medport.json.
#include "medport/graph/ir.hpp"
#include "medport/models/converter.hpp"
#include "medport/models/nnunet/model.hpp"

namespace medport::models::nnunet {

// The graph for a loaded model (weights checked first; fp16 via the graph library's pass).
graph::Graph model_graph(const Model& model, bool deep_supervision, bool fp16, int opset,
                         std::size_t* tensors_used = nullptr, std::int64_t* parameters = nullptr);

ConvertReport convert_nnunet(const ConvertRequest& request);
FamilyConverter nnunet_family_converter();

}  // namespace medport::models::nnunet
