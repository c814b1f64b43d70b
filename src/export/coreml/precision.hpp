#pragma once
// Which nodes of a float16 program compute in float32: nodes the graph marks keep_fp32 (the
// Builder's group-norm decomposition and Fp32Scope), ops whose float16 results go wrong
// (sums over many elements, exponentials, powers, trigonometry of large phases), and light nodes
// that only feed float32 ones (so t -> Cast -> Mul -> Cos stays exact). The rest is float16,
// as Apple's converter makes it (normalizations and softmax included).
#include <set>
#include <string>

#include "export/coreml/prepared_graph.hpp"

namespace medport::coreml {

std::set<std::string> fp32_nodes(const PreparedGraph& graph);

}  // namespace medport::coreml
