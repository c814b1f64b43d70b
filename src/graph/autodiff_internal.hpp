#pragma once
// Private pieces of the reverse-mode pass: static shape facts from ONNX shape inference, the
// per-node context a vector-Jacobian product (VJP) sees, and gradient-building helpers.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "medport/graph/builder.hpp"
#include "medport/graph/ir.hpp"
#include "medport/graph/static_shapes.hpp"

namespace medport::graph::autodiff {

using graph::StaticShapes;

struct VjpContext {
  Builder& b;
  const Graph& forward;
  const Node& node;
  const StaticShapes& shapes;
  std::vector<Value> inputs;         // forward inputs (invalid for omitted ones)
  std::vector<Value> outputs;        // forward outputs
  std::vector<Value> output_grads;   // gradient per output (zeros filled in where missing)
  std::vector<bool> wants;           // per input: a gradient is needed

  bool want(std::size_t i) const { return i < wants.size() && wants[i]; }
  std::optional<std::vector<std::int64_t>> shape_of(const Value& v) const;
  std::int64_t rank_of(const Value& v) const;  // UsageError when unknown
  [[noreturn]] void unsupported(const std::string& why) const;
  // Constant int64 values of an input (an initializer), nullopt when not constant.
  std::optional<std::vector<std::int64_t>> const_ints(std::size_t input) const;
  std::optional<std::vector<float>> const_floats(std::size_t input) const;
  std::int64_t int_attr(const std::string& name, std::int64_t fallback) const;
  float float_attr(const std::string& name, float fallback) const;
  std::string string_attr(const std::string& name, const std::string& fallback) const;
  std::optional<std::vector<std::int64_t>> ints_attr(const std::string& name) const;
};

// Gradient per forward input (invalid where none is produced).
using Vjp = std::function<std::vector<Value>(VjpContext&)>;
const std::map<std::string, Vjp>& vjp_table();

// Registration parts, one per source file.
void add_elementwise_vjps(std::map<std::string, Vjp>& table);
void add_shape_vjps(std::map<std::string, Vjp>& table);
void add_linalg_vjps(std::map<std::string, Vjp>& table);
void add_resize_vjps(std::map<std::string, Vjp>& table);

// ---- helpers ----------------------------------------------------------------------------
// Sums `grad` (the shape of a broadcast result, `grad_shape` when statically known) down to
// `target`'s shape; runtime Shape/NonZero/ReduceSum nodes when the static shapes are incomplete.
Value unbroadcast(VjpContext& c, const Value& grad, const Value& target,
                  const std::optional<std::vector<std::int64_t>>& grad_shape);
Value zeros_like(Builder& b, const Value& like, const std::string& hint);
Value scalar_of(Builder& b, const Value& like, double value);
Value gather_dims(Builder& b, const Value& shape, const std::vector<std::int64_t>& indices);
std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank);
// Swaps the last two axes.
Value transpose_last2(Builder& b, const Value& x, std::int64_t rank);

}  // namespace medport::graph::autodiff
