#pragma once
// nnU-Net v2 network -> graph::Graph, op for op what dynamic_network_architectures computes in
// eval mode: input "input" (N, C, *spatial), output "logits" (N, classes, *spatial); batch and
// spatial axes are dynamic (spatial sizes must be multiples of Architecture::stride_product()).
#include <string>

#include "medport/graph/ir.hpp"
#include "medport/models/nnunet/architecture.hpp"
#include "medport/models/nnunet/weights.hpp"

namespace medport::models::nnunet {

inline constexpr const char* kInputName = "input";
inline constexpr const char* kOutputName = "logits";

struct GraphOptions {
  // Also output every lower-resolution segmentation head ("deep_supervision_1", ...: the
  // resolution halves with each), after "logits" (the highest resolution).
  bool deep_supervision = false;
  int opset = 17;
};

graph::Graph build_graph(const Architecture& arch, const Weights& weights, const GraphOptions& options = {});

// Output names in graph order for these options.
std::vector<std::string> output_names(const Architecture& arch, const GraphOptions& options);

}  // namespace medport::models::nnunet
