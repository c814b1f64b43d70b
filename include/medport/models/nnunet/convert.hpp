#pragma once
// nnU-Net v2: a loaded model -> its graph (weights checked against the plans first).
#include <cstddef>
#include <cstdint>

#include "medport/graph/ir.hpp"
#include "medport/models/nnunet/model.hpp"

namespace medport::models::nnunet {

// fp16 via the graph library's pass (norms stay fp32, fp32 I/O).
graph::Graph model_graph(const Model& model, bool deep_supervision, bool fp16, int opset,
                         std::size_t* tensors_used = nullptr, std::int64_t* parameters = nullptr);

}  // namespace medport::models::nnunet
