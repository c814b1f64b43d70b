#pragma once
// A small typed graph IR that maps one to one onto an ONNX GraphProto: named values, nodes with
// attributes, initializers holding medport::Tensor (shared storage: weights are not copied until
// the writer serializes them), graph inputs/outputs with fixed or symbolic dims, metadata.
// Nodes are kept in topological order (the Builder appends them in creation order).
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "medport/dtype.hpp"
#include "medport/tensor.hpp"

namespace medport::graph {

// One dimension of a graph input/output: a fixed size or a symbolic name ("N", "H", "W").
struct Dim {
  std::int64_t value = -1;  // >= 0 when fixed
  std::string param;        // non-empty when symbolic

  Dim() = default;
  Dim(std::int64_t fixed) : value(fixed) {}                   // NOLINT(implicit)
  Dim(int fixed) : value(fixed) {}                            // NOLINT(implicit)
  Dim(std::string symbol) : param(std::move(symbol)) {}       // NOLINT(implicit)
  Dim(const char* symbol) : param(symbol) {}                  // NOLINT(implicit)
  bool is_fixed() const { return param.empty() && value >= 0; }
  bool is_symbolic() const { return !param.empty(); }
  bool operator==(const Dim&) const = default;
};
using Dims = std::vector<Dim>;

// A graph input or output: name, element type and (optionally) a shape.
struct ValueInfo {
  std::string name;
  DType dtype = DType::F32;
  std::optional<Dims> shape;  // nullopt: rank unknown (no shape written)
};

enum class AttrKind { Int, Float, String, Ints, Floats, Strings, Tensor };

struct Attribute {
  std::string name;
  AttrKind kind = AttrKind::Int;
  std::int64_t i = 0;
  float f = 0.0f;
  std::string s;
  std::vector<std::int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  Tensor t;

  static Attribute make_int(std::string name, std::int64_t value);
  static Attribute make_float(std::string name, float value);
  static Attribute make_string(std::string name, std::string value);
  static Attribute make_ints(std::string name, std::vector<std::int64_t> values);
  static Attribute make_floats(std::string name, std::vector<float> values);
  static Attribute make_strings(std::string name, std::vector<std::string> values);
  static Attribute make_tensor(std::string name, Tensor value);
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;                // empty: the default ONNX domain
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;
  // Not written to ONNX: tells the fp16 pass to keep this node in float32 (the Builder sets it
  // on the group-norm decomposition and inside Builder::Fp32Scope).
  bool keep_fp32 = false;

  const Attribute* find_attribute(const std::string& attr_name) const;
  std::optional<std::int64_t> int_attribute(const std::string& attr_name) const;
};

struct Initializer {
  std::string name;
  Tensor tensor;  // any dtype/strides; written row-major little-endian
};

struct Graph {
  std::string name = "medport";
  std::string doc_string;
  int opset = 17;  // default-domain opset the nodes are written for
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<Initializer> initializers;
  std::vector<Node> nodes;  // topological order
  std::vector<std::pair<std::string, std::string>> metadata_props;  // written in this order

  const Initializer* find_initializer(const std::string& value_name) const;
  const Node* find_producer(const std::string& value_name) const;
  // Sum of the initializers' byte sizes.
  std::size_t initializer_bytes() const;
};

// Element types of a node's outputs given its inputs' types (nullopt for an omitted input or
// an unknown type). Covers the ops the Builder emits; other ops take their first input's type.
std::vector<std::optional<DType>> infer_output_dtypes(const Node& node,
                                                      std::span<const std::optional<DType>> input_dtypes);
// Element type of every value in the graph (inputs, initializers, node outputs).
std::map<std::string, DType> infer_dtypes(const Graph& graph);

// Structural checks the ONNX checker would also make, with clearer messages: unique value and
// node names, every input defined before use, outputs produced. Throws std::logic_error.
void validate(const Graph& graph);

// ONNX TensorProto.DataType codes.
int onnx_data_type(DType dtype);
std::optional<DType> dtype_from_onnx(int data_type);

}  // namespace medport::graph
