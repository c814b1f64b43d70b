#pragma once
// float32 -> float16 conversion of a graph's weights and compute, keeping numerically fragile
// ops in float32 with Cast nodes at every precision boundary.
#include <set>
#include <string>

#include "medport/graph/ir.hpp"

namespace medport::graph {

// Ops kept in float32 by default: normalizations (ORT's fp16 InstanceNormalization is wrong),
// softmax, reductions, resampling, Range/CumSum, the math that feeds norms and exponents, and
// Cos/Sin (sinusoidal embeddings of timesteps up to 1000 lose their phase in half).
std::set<std::string> default_fp32_op_types();

struct Fp16Options {
  std::set<std::string> fp32_op_types = default_fp32_op_types();
  std::set<std::string> fp32_node_names;  // further nodes to keep in float32
  // Light nodes (anything but Conv/ConvTranspose/MatMul/Gemm/Einsum) whose results feed only
  // float32 nodes become float32 too, so chains such as t -> Cast -> Mul -> Cos stay exact.
  bool extend_fp32_upstream = true;
  // Keep float32 graph inputs/outputs (Cast after inputs, before outputs). When false, float32
  // inputs/outputs become float16.
  bool keep_io_types = true;
  // float32 weights are clamped to [-max_finite, max_finite] before rounding to half;
  // nonzero magnitudes below min_positive become +-min_positive (0 disables).
  float max_finite = 65504.0f;
  float min_positive = 0.0f;
};

// Returns the converted graph; the input is untouched (initializers that stay float32 keep
// sharing their storage). Nodes with keep_fp32 set stay float32 as well. Cast nodes to float
// inside float16 regions are retargeted to float16. An initializer feeding both kinds of
// nodes is kept in float32 and gets a float16 copy named "<name>.fp16".
Graph convert_to_fp16(const Graph& graph, const Fp16Options& options = {});

}  // namespace medport::graph
