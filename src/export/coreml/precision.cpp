#include "export/coreml/precision.hpp"

#include <algorithm>

namespace medport::coreml {

namespace {

const std::set<std::string>& fp32_op_types() {
  static const std::set<std::string> ops{"ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
                                         "ReduceLogSumExp", "ReduceProd", "CumSum", "Range", "Pow", "Sqrt", "Exp",
                                         "Log", "Cos", "Sin"};
  return ops;
}

bool heavy(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "MatMul" || op == "Gemm" || op == "Einsum";
}

}  // namespace

std::set<std::string> fp32_nodes(const PreparedGraph& g) {
  std::set<std::string> fp32;
  for (const auto& node : g.graph.nodes)
    if (node.keep_fp32 || fp32_op_types().count(node.op_type)) fp32.insert(node.name);
  // Light nodes whose every consumer computes in float32 join them (walking backwards).
  for (auto it = g.graph.nodes.rbegin(); it != g.graph.nodes.rend(); ++it) {
    const auto& node = *it;
    if (fp32.count(node.name) || heavy(node.op_type) || g.folded_nodes.count(node.name)) continue;
    bool feeds_fp32 = false, feeds_other = false;
    for (const auto& out : node.outputs) {
      auto u = g.uses.find(out);
      if (g.is_graph_output(out)) feeds_other = true;
      if (u == g.uses.end()) continue;
      for (const auto& [consumer, index] : u->second) {
        (void)index;
        (fp32.count(consumer->name) ? feeds_fp32 : feeds_other) = true;
      }
    }
    if (feeds_fp32 && !feeds_other) fp32.insert(node.name);
  }
  return fp32;
}

}  // namespace medport::coreml
