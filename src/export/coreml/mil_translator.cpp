#include "export/coreml/mil_translator.hpp"

#include "medport/error.hpp"

namespace medport::coreml {

MilTranslator::MilTranslator(const PreparedGraph& graph, MilBuilder& builder, const std::set<std::string>& fp32_nodes,
                             bool fp16, int ios, std::string source)
    : graph_(graph), builder_(builder), fp32_nodes_(fp32_nodes), fp16_(fp16), ios_(ios), source_(std::move(source)) {}

MilDType MilTranslator::float_dtype() const {
  return fp16_ && !(node_ && fp32_nodes_.count(node_->name)) ? mil::FLOAT16 : mil::FLOAT32;
}

MilDType MilTranslator::natural_dtype(DType dtype, MilDType float_as) const {
  if (dtype_is_floating(dtype)) return float_as;
  if (dtype == DType::Bool) return mil::BOOL;
  return mil::INT32;
}

bool MilTranslator::has_input(std::size_t i) const { return i < node_->inputs.size() && !node_->inputs[i].empty(); }

MilVar MilTranslator::materialize(const std::string& value, MilDType float_as) {
  const auto c = graph_.constant(value);
  const MilDType dtype = natural_dtype(c->dtype(), float_as);
  auto key = std::make_pair(value, static_cast<int>(dtype));
  if (auto it = converted_.find(key); it != converted_.end()) return it->second;
  std::string hint = value;
  if (dtype == mil::FLOAT16) hint += "_to_fp16";
  MilVar v = builder_.constant(*c, dtype, hint);
  converted_[key] = v;
  return v;
}

MilVar MilTranslator::var_of(const std::string& value) {
  if (auto it = vars_.find(value); it != vars_.end()) return it->second;
  if (graph_.is_constant(value)) return materialize(value, fp16_ ? mil::FLOAT16 : mil::FLOAT32);
  throw InputError(source_, "value '" + value + "' is used before it is computed");
}

MilVar MilTranslator::in_as(std::size_t i, MilDType dtype) {
  if (!has_input(i)) throw std::logic_error("missing input");
  const std::string& value = node_->inputs[i];
  if (!vars_.count(value) && graph_.is_constant(value)) {
    const auto c = graph_.constant(value);
    if (is_float(dtype) && dtype_is_floating(c->dtype())) return materialize(value, dtype);
    if (!is_float(dtype) && natural_dtype(c->dtype(), mil::FLOAT32) == dtype) return materialize(value, mil::FLOAT32);
  }
  MilVar v = var_of(value);
  if (v.dtype == dtype) return v;
  auto key = std::make_pair(value, static_cast<int>(dtype));
  if (auto it = converted_.find(key); it != converted_.end()) return it->second;
  MilVar c = builder_.cast(v, dtype, builder_.fresh(v.name + "_to_" + mil_dtype_name(dtype)));
  converted_[key] = c;
  return c;
}

MilVar MilTranslator::value(const std::string& name) {
  if (!vars_.count(name) && graph_.is_constant(name)) return materialize(name, float_dtype());
  return var_of(name);
}

MilVar MilTranslator::in(std::size_t i) {
  return in_as(i, natural_dtype(graph_.dtype(node_->inputs.at(i)), float_dtype()));
}

std::optional<Tensor> MilTranslator::constant(std::size_t i) const {
  if (!has_input(i)) return std::nullopt;
  return graph_.constant(node_->inputs[i]);
}

std::vector<std::int64_t> MilTranslator::const_ints(std::size_t i, const std::string& what) const {
  auto c = constant(i);
  if (!c) unsupported(what + " computed at run time (only constant " + what + " can be exported)");
  const Tensor t = c->to(DType::I64);
  return {t.data<std::int64_t>(), t.data<std::int64_t>() + t.numel()};
}

std::vector<float> MilTranslator::const_floats(std::size_t i, const std::string& what) const {
  auto c = constant(i);
  if (!c) unsupported(what + " computed at run time (only constant " + what + " can be exported)");
  return c->to_f32();
}

std::vector<std::int64_t> MilTranslator::shape_of(std::size_t i) const {
  auto s = graph_.shape(node_->inputs.at(i));
  if (!s) unsupported("input '" + node_->inputs[i] + "' of unknown rank");
  return *s;
}

std::vector<std::int64_t> MilTranslator::out_shape(std::size_t i) const {
  auto s = graph_.shape(node_->outputs.at(i));
  if (!s) unsupported("output '" + node_->outputs[i] + "' of unknown rank");
  return *s;
}

MilDType MilTranslator::out_dtype(std::size_t i) const {
  return natural_dtype(graph_.dtype(node_->outputs.at(i)), float_dtype());
}

std::string MilTranslator::out_name(std::size_t i) {
  const std::string& value = node_->outputs.at(i);
  auto exact = [&](const std::string& name) {
    auto it = output_io_.find(name);
    return it != output_io_.end() && it->second == out_dtype(i) && !taken_.count(name);
  };
  if (exact(value)) {
    taken_.insert(value);
    return value;
  }
  // A value renamed into a graph output by a lone Identity takes the output's name directly.
  auto uses = graph_.uses.find(value);
  if (uses != graph_.uses.end() && uses->second.size() == 1 && !graph_.is_graph_output(value)) {
    const graph::Node& consumer = *uses->second.front().first;
    if (consumer.op_type == "Identity" && exact(consumer.outputs.at(0))) {
      taken_.insert(consumer.outputs[0]);
      return consumer.outputs[0];
    }
  }
  return builder_.fresh(value);
}

MilVar MilTranslator::set_out(const MilVar& v, std::size_t i) {
  vars_[node_->outputs.at(i)] = v;
  return v;
}

MilVar MilTranslator::emit(const std::string& type, const std::vector<std::pair<std::string, MilArg>>& inputs,
                           std::size_t i) {
  return set_out(builder_.op(type, inputs, out_name(i), out_dtype(i), out_shape(i)), i);
}

std::int64_t MilTranslator::attr_i(const std::string& name, std::int64_t fallback) const {
  const auto* a = node_->find_attribute(name);
  return a ? a->i : fallback;
}

float MilTranslator::attr_f(const std::string& name, float fallback) const {
  const auto* a = node_->find_attribute(name);
  return a ? a->f : fallback;
}

std::string MilTranslator::attr_s(const std::string& name, const std::string& fallback) const {
  const auto* a = node_->find_attribute(name);
  return a ? a->s : fallback;
}

std::vector<std::int64_t> MilTranslator::attr_ints(const std::string& name) const {
  const auto* a = node_->find_attribute(name);
  return a ? a->ints : std::vector<std::int64_t>{};
}

std::string MilTranslator::tmp(const std::string& suffix) { return builder_.fresh(node_->name + "_" + suffix); }

void MilTranslator::unsupported(const std::string& what) const {
  throw InputError(source_, "node '" + (node_ ? node_->name : std::string("?")) + "' (" +
                                (node_ ? node_->op_type : std::string("?")) + "): " + what + " has no Core ML form");
}

void MilTranslator::require_ios(int ios, const std::string& what) const {
  if (ios_ < ios)
    throw InputError(source_, "node '" + node_->name + "' (" + node_->op_type + ") needs " + what +
                                  ", which the deployment target lacks (needs iOS" + std::to_string(ios) +
                                  " / macOS" + std::to_string(ios - 3) + " or later)");
}

void MilTranslator::declare_input(const graph::ValueInfo& input, MilDType io_dtype,
                                  const std::vector<std::int64_t>& shape) {
  builder_.reserve(input.name);
  vars_[input.name] = MilVar{input.name, io_dtype, shape};
}

void MilTranslator::expect_output(const std::string& name, MilDType io_dtype) {
  builder_.reserve(name);
  output_io_[name] = io_dtype;
}

void MilTranslator::translate_all() {
  const auto& handlers = mil_handlers();
  for (const auto& node : graph_.graph.nodes) {
    if (graph_.folded_nodes.count(node.name)) continue;
    node_ = &node;
    if (!node.domain.empty() && node.domain != "ai.onnx") unsupported("the operator domain '" + node.domain + "'");
    auto it = handlers.find(node.op_type);
    if (it == handlers.end()) unsupported("the operator " + node.op_type);
    it->second(*this, node);
    for (std::size_t i = 0; i < node.outputs.size(); ++i)
      if (!node.outputs[i].empty() && !vars_.count(node.outputs[i]) && !deferred_.count(node.outputs[i]) &&
          graph_.uses.count(node.outputs[i]))
        unsupported("output " + std::to_string(i));
  }
  node_ = nullptr;
}

MilVar MilTranslator::finish_output(const std::string& name, MilDType io_dtype) {
  MilVar v = var_of(name);
  if (v.name == name && v.dtype == io_dtype) return v;
  if (v.dtype != io_dtype) {
    if (!is_float(v.dtype) || !is_float(io_dtype)) {
      const MilVar dtype = builder_.text(mil_dtype_name(io_dtype), name + "_dtype");
      return builder_.op("cast", {{"x", v}, {"dtype", dtype}}, name, io_dtype, v.shape);
    }
    return builder_.cast(v, io_dtype, name);
  }
  return builder_.op("identity", {{"x", v}}, name, v.dtype, v.shape);
}

}  // namespace medport::coreml
