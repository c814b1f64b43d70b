#pragma once
// The ONNX -> MIL handlers, grouped by kind (mil_ops_nn.cpp, mil_ops_math.cpp, mil_ops_shape.cpp).
#include "export/coreml/mil_translator.hpp"

namespace medport::coreml::mil_ops {

using graph::Node;

// Networks: convolution, normalization, pooling, resampling, matrix products.
void conv(MilTranslator& t, const Node& n);
void conv_transpose(MilTranslator& t, const Node& n);
void instance_norm(MilTranslator& t, const Node& n);
void batch_norm(MilTranslator& t, const Node& n);
void layer_norm(MilTranslator& t, const Node& n);
void pool(MilTranslator& t, const Node& n);
void global_pool(MilTranslator& t, const Node& n);
void resize(MilTranslator& t, const Node& n);
void matmul(MilTranslator& t, const Node& n);
void gemm(MilTranslator& t, const Node& n);

// Elementwise math, activations, reductions, casts.
void binary(MilTranslator& t, const Node& n);
void variadic(MilTranslator& t, const Node& n);
void unary(MilTranslator& t, const Node& n);
void activation(MilTranslator& t, const Node& n);
void clip(MilTranslator& t, const Node& n);
void softmax(MilTranslator& t, const Node& n);
void reduce(MilTranslator& t, const Node& n);
void argmax(MilTranslator& t, const Node& n);
void where(MilTranslator& t, const Node& n);
void cast(MilTranslator& t, const Node& n);
void identity(MilTranslator& t, const Node& n);

// Shapes and layout.
void reshape(MilTranslator& t, const Node& n);
void flatten(MilTranslator& t, const Node& n);
void transpose(MilTranslator& t, const Node& n);
void concat(MilTranslator& t, const Node& n);
void split(MilTranslator& t, const Node& n);
void slice(MilTranslator& t, const Node& n);
void squeeze(MilTranslator& t, const Node& n);
void unsqueeze(MilTranslator& t, const Node& n);
void gather(MilTranslator& t, const Node& n);
void expand(MilTranslator& t, const Node& n);
void tile(MilTranslator& t, const Node& n);
void shape(MilTranslator& t, const Node& n);
void pad(MilTranslator& t, const Node& n);

// ONNX pads [b0, b1, ..., e0, e1, ...] -> MIL [b0, e0, b1, e1, ...] (zeros when empty).
std::vector<std::int64_t> mil_pads(const std::vector<std::int64_t>& onnx_pads, std::size_t spatial);
// An attribute list or `count` copies of `fallback` when absent.
std::vector<std::int64_t> ints_or(const MilTranslator& t, const std::string& name, std::size_t count,
                                  std::int64_t fallback);
// Negative axes made positive for `rank`.
std::int64_t norm_axis(std::int64_t axis, std::int64_t rank);

}  // namespace medport::coreml::mil_ops
