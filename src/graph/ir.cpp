#include "medport/graph/ir.hpp"

#include <set>
#include <stdexcept>

namespace medport::graph {

Attribute Attribute::make_int(std::string name, std::int64_t value) {
  Attribute a;
  a.name = std::move(name);
  a.kind = AttrKind::Int;
  a.i = value;
  return a;
}

Attribute Attribute::make_float(std::string name, float value) {
  Attribute a;
  a.name = std::move(name);
  a.kind = AttrKind::Float;
  a.f = value;
  return a;
}

Attribute Attribute::make_string(std::string name, std::string value) {
  Attribute a;
  a.name = std::move(name);
  a.kind = AttrKind::String;
  a.s = std::move(value);
  return a;
}

Attribute Attribute::make_ints(std::string name, std::vector<std::int64_t> values) {
  Attribute a;
  a.name = std::move(name);
  a.kind = AttrKind::Ints;
  a.ints = std::move(values);
  return a;
}

Attribute Attribute::make_floats(std::string name, std::vector<float> values) {
  Attribute a;
  a.name = std::move(name);
  a.kind = AttrKind::Floats;
  a.floats = std::move(values);
  return a;
}

Attribute Attribute::make_strings(std::string name, std::vector<std::string> values) {
  Attribute a;
  a.name = std::move(name);
  a.kind = AttrKind::Strings;
  a.strings = std::move(values);
  return a;
}

Attribute Attribute::make_tensor(std::string name, Tensor value) {
  Attribute a;
  a.name = std::move(name);
  a.kind = AttrKind::Tensor;
  a.t = std::move(value);
  return a;
}

const Attribute* Node::find_attribute(const std::string& attr_name) const {
  for (const auto& a : attributes)
    if (a.name == attr_name) return &a;
  return nullptr;
}

std::optional<std::int64_t> Node::int_attribute(const std::string& attr_name) const {
  const Attribute* a = find_attribute(attr_name);
  if (a == nullptr || a->kind != AttrKind::Int) return std::nullopt;
  return a->i;
}

const Initializer* Graph::find_initializer(const std::string& value_name) const {
  for (const auto& init : initializers)
    if (init.name == value_name) return &init;
  return nullptr;
}

const Node* Graph::find_producer(const std::string& value_name) const {
  for (const auto& node : nodes)
    for (const auto& out : node.outputs)
      if (out == value_name) return &node;
  return nullptr;
}

std::size_t Graph::initializer_bytes() const {
  std::size_t total = 0;
  for (const auto& init : initializers) total += init.tensor.nbytes();
  return total;
}

int onnx_data_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return 1;
    case DType::U8: return 2;
    case DType::I8: return 3;
    case DType::U16: return 4;
    case DType::I16: return 5;
    case DType::I32: return 6;
    case DType::I64: return 7;
    case DType::Bool: return 9;
    case DType::F16: return 10;
    case DType::F64: return 11;
    case DType::BF16: return 16;
  }
  throw std::logic_error("unknown dtype");
}

std::optional<DType> dtype_from_onnx(int data_type) {
  switch (data_type) {
    case 1: return DType::F32;
    case 2: return DType::U8;
    case 3: return DType::I8;
    case 4: return DType::U16;
    case 5: return DType::I16;
    case 6: return DType::I32;
    case 7: return DType::I64;
    case 9: return DType::Bool;
    case 10: return DType::F16;
    case 11: return DType::F64;
    case 16: return DType::BF16;
    default: return std::nullopt;
  }
}

namespace {

const std::set<std::string>& ops_returning_bool() {
  static const std::set<std::string> ops = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
                                            "Not",   "And",  "Or",      "Xor",         "IsNaN",
                                            "IsInf"};
  return ops;
}

const std::set<std::string>& ops_returning_int64() {
  static const std::set<std::string> ops = {"Shape", "Size", "ArgMax", "ArgMin", "NonZero"};
  return ops;
}

std::optional<DType> dtype_attribute(const Node& node, const std::string& name) {
  if (auto code = node.int_attribute(name)) return dtype_from_onnx(static_cast<int>(*code));
  return std::nullopt;
}

}  // namespace

std::vector<std::optional<DType>> infer_output_dtypes(const Node& node,
                                                      std::span<const std::optional<DType>> input_dtypes) {
  std::optional<DType> first;
  for (const auto& d : input_dtypes)
    if (d) {
      first = d;
      break;
    }
  std::vector<std::optional<DType>> out(node.outputs.size(), first);
  if (out.empty()) return out;
  const std::string& op = node.op_type;
  if (op == "Cast") {
    out[0] = dtype_attribute(node, "to");
  } else if (ops_returning_int64().count(op)) {
    out[0] = DType::I64;
  } else if (ops_returning_bool().count(op)) {
    out[0] = DType::Bool;
  } else if (op == "Constant") {
    out[0] = std::nullopt;
    for (const auto& a : node.attributes) {
      if (a.name == "value" && a.kind == AttrKind::Tensor) out[0] = a.t.dtype();
      if (a.name == "value_float" || a.name == "value_floats") out[0] = DType::F32;
      if (a.name == "value_int" || a.name == "value_ints") out[0] = DType::I64;
    }
  } else if (op == "ConstantOfShape") {
    const Attribute* value = node.find_attribute("value");
    out[0] = (value != nullptr && value->kind == AttrKind::Tensor) ? value->t.dtype() : DType::F32;
  } else if (op == "Where") {
    if (input_dtypes.size() > 1) out[0] = input_dtypes[1];
  } else if (op == "RandomNormal" || op == "RandomUniform" || op == "EyeLike" || op == "RandomNormalLike" ||
             op == "RandomUniformLike") {
    if (auto d = dtype_attribute(node, "dtype")) out[0] = d;
    else if (op == "RandomNormal" || op == "RandomUniform") out[0] = DType::F32;
  } else if (op == "LayerNormalization") {
    // Mean and InvStdDev come in stash_type (float32 by default).
    for (std::size_t i = 1; i < out.size(); ++i) out[i] = dtype_attribute(node, "stash_type").value_or(DType::F32);
  } else if (op == "Dropout") {
    if (out.size() > 1) out[1] = DType::Bool;
  } else if (op == "MaxPool" || op == "TopK") {
    if (out.size() > 1) out[1] = DType::I64;
  }
  return out;
}

std::map<std::string, DType> infer_dtypes(const Graph& graph) {
  std::map<std::string, DType> types;
  for (const auto& in : graph.inputs) types[in.name] = in.dtype;
  for (const auto& init : graph.initializers) types[init.name] = init.tensor.dtype();
  std::vector<std::optional<DType>> ins;
  for (const auto& node : graph.nodes) {
    ins.clear();
    for (const auto& name : node.inputs) {
      auto it = types.find(name);
      ins.push_back(it == types.end() ? std::nullopt : std::optional<DType>(it->second));
    }
    const auto outs = infer_output_dtypes(node, ins);
    for (std::size_t i = 0; i < node.outputs.size(); ++i)
      if (outs[i] && !node.outputs[i].empty()) types[node.outputs[i]] = *outs[i];
  }
  return types;
}

void validate(const Graph& graph) {
  std::set<std::string> defined;
  auto define = [&](const std::string& name, const std::string& what) {
    if (name.empty()) throw std::logic_error("graph '" + graph.name + "': " + what + " with an empty name");
    if (!defined.insert(name).second)
      throw std::logic_error("graph '" + graph.name + "': value '" + name + "' is defined twice (" + what + ")");
  };
  for (const auto& in : graph.inputs) define(in.name, "graph input");
  for (const auto& init : graph.initializers) {
    define(init.name, "initializer");
    if (!init.tensor.defined()) throw std::logic_error("initializer '" + init.name + "' holds no tensor");
  }
  std::set<std::string> node_names;
  for (const auto& node : graph.nodes) {
    if (node.op_type.empty()) throw std::logic_error("node '" + node.name + "' has no op_type");
    if (!node.name.empty() && !node_names.insert(node.name).second)
      throw std::logic_error("node name '" + node.name + "' is used twice");
    for (const auto& in : node.inputs)
      if (!in.empty() && !defined.count(in))
        throw std::logic_error("node '" + node.name + "' (" + node.op_type + ") reads '" + in +
                               "' before anything defines it");
    for (const auto& out : node.outputs)
      if (!out.empty()) define(out, "output of node '" + node.name + "'");
  }
  std::set<std::string> output_names;
  for (const auto& out : graph.outputs) {
    if (!defined.count(out.name)) throw std::logic_error("graph output '" + out.name + "' is never produced");
    if (!output_names.insert(out.name).second)
      throw std::logic_error("graph output '" + out.name + "' is listed twice");
  }
}

}  // namespace medport::graph
