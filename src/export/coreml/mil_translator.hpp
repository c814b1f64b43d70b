#pragma once
// graph::Graph (ONNX semantics) -> one MIL block. Each ONNX op type has a handler (mil_ops_*.cpp)
// that emits MIL ops through the translator, which tracks which MIL var holds each graph value,
// materializes constants on first use (in the precision the consumer computes in) and names
// outputs after the graph's values.
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "export/coreml/mil_builder.hpp"
#include "export/coreml/prepared_graph.hpp"

namespace medport::coreml {

class MilTranslator;
using MilHandler = std::function<void(MilTranslator&, const graph::Node&)>;

// ONNX op type -> handler; the minimum iOS release an op type needs (beyond iOS15) is checked
// by the handler itself through require_ios().
const std::map<std::string, MilHandler>& mil_handlers();

class MilTranslator {
 public:
  MilTranslator(const PreparedGraph& graph, MilBuilder& builder, const std::set<std::string>& fp32_nodes, bool fp16,
                int ios, std::string source);

  // ---- what handlers use --------------------------------------------------------------------
  const PreparedGraph& graph() const { return graph_; }
  MilBuilder& b() { return builder_; }
  const graph::Node& node() const { return *node_; }
  // The dtype floats are computed in by the current node.
  MilDType float_dtype() const;
  bool has_input(std::size_t i) const;
  // Input i as a MIL var: floats in the current node's precision; constants materialized.
  MilVar in(std::size_t i);
  // Input i as a MIL var of the given dtype (casts when needed).
  MilVar in_as(std::size_t i, MilDType dtype);
  // Any graph value (a constant materialized in the node's precision).
  MilVar value(const std::string& name);
  std::optional<Tensor> constant(std::size_t i) const;
  std::vector<std::int64_t> const_ints(std::size_t i, const std::string& what) const;   // InputError if not constant
  std::vector<float> const_floats(std::size_t i, const std::string& what) const;
  std::vector<std::int64_t> shape_of(std::size_t i) const;  // static dims (-1 unknown); InputError if rank unknown
  std::vector<std::int64_t> out_shape(std::size_t i = 0) const;
  // The MIL dtype of output i of the current node (floats in the node's precision).
  MilDType out_dtype(std::size_t i = 0) const;
  // The name output i gets (graph output names are kept when the dtype matches).
  std::string out_name(std::size_t i = 0);
  // Output i is not materialized: its consumers read the node's input directly (a weight
  // transposed only for MatMul).
  void defer(std::size_t i = 0) { deferred_.insert(node_->outputs.at(i)); }
  // Registers `value` (an output of a later node this node absorbs, e.g. a folded BatchNorm).
  void set_value(const std::string& value, const MilVar& v) { vars_[value] = v; }
  bool has_value(const std::string& value) const { return vars_.count(value) > 0; }
  // Registers output i; returns it.
  MilVar set_out(const MilVar& v, std::size_t i = 0);
  // Emits `type` with the given inputs producing output i with its static type.
  MilVar emit(const std::string& type, const std::vector<std::pair<std::string, MilArg>>& inputs, std::size_t i = 0);
  // Attributes.
  std::int64_t attr_i(const std::string& name, std::int64_t fallback) const;
  float attr_f(const std::string& name, float fallback) const;
  std::string attr_s(const std::string& name, const std::string& fallback) const;
  std::vector<std::int64_t> attr_ints(const std::string& name) const;
  // A name for intermediate values of the current node.
  std::string tmp(const std::string& suffix);
  [[noreturn]] void unsupported(const std::string& what) const;
  void require_ios(int ios, const std::string& what) const;
  int ios() const { return ios_; }

  // ---- driving ------------------------------------------------------------------------------
  void declare_input(const graph::ValueInfo& input, MilDType io_dtype, const std::vector<std::int64_t>& shape);
  void expect_output(const std::string& name, MilDType io_dtype);
  void translate_all();
  // The var finally holding graph output `name`, converted to `io_dtype` and named `name`.
  MilVar finish_output(const std::string& name, MilDType io_dtype);
  MilVar var_of(const std::string& value);

 private:
  MilVar materialize(const std::string& value, MilDType float_as);
  MilDType natural_dtype(DType dtype, MilDType float_as) const;

  const PreparedGraph& graph_;
  MilBuilder& builder_;
  const std::set<std::string>& fp32_nodes_;
  bool fp16_;
  int ios_;
  std::string source_;
  const graph::Node* node_ = nullptr;
  std::map<std::string, MilVar> vars_;
  std::map<std::pair<std::string, int>, MilVar> converted_;  // (value, dtype) -> var
  std::map<std::string, MilDType> output_io_;
  std::set<std::string> taken_;
  std::set<std::string> deferred_;  // graph output names already given to an op
};

}  // namespace medport::coreml
