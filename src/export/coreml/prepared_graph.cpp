#include "export/coreml/prepared_graph.hpp"

#include <algorithm>

#include "medport/error.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/runtime/session.hpp"

namespace medport::coreml {

namespace {

// Constants up to this size take part in folding (shape vectors, scales, small tables); weights
// never do, so folding copies no weight.
constexpr std::size_t kFoldInputBytes = std::size_t{64} << 10;
constexpr std::int64_t kFoldOutputElements = 1 << 16;

bool deterministic(const std::string& op) { return op.rfind("Random", 0) != 0 && op != "Multinomial"; }

std::string dims_text(const graph::Dims& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += dims[i].is_fixed() ? std::to_string(dims[i].value) : dims[i].param.empty() ? "?" : dims[i].param;
  }
  return s + "]";
}

// Applies the requested shape to one input's declared dims.
void apply_shape(graph::ValueInfo& input, const InputShape* want, bool allow_flexible, const std::string& source) {
  const bool dynamic = !input.shape || std::any_of(input.shape->begin(), input.shape->end(),
                                                   [](const graph::Dim& d) { return !d.is_fixed(); });
  if (!want) {
    if (dynamic)
      throw UsageError(source + ": input '" + input.name + "' has dynamic dims " +
                       (input.shape ? dims_text(*input.shape) : "(rank unknown)") + "; give --input-shape " +
                       input.name + "=... (or --shape-range / --enumerated-shapes)");
    return;
  }
  if (want->flexible() && !allow_flexible)
    throw InputError(source, "input '" + input.name +
                                 "': the neuralnetwork backend needs fixed shapes (flexible shapes need --backend mlprogram)");
  const Shape& fixed = want->fixed;
  if (input.shape && input.shape->size() != fixed.size())
    throw UsageError(source + ": input '" + input.name + "' has rank " + std::to_string(input.shape->size()) +
                     ", the shape given has " + std::to_string(fixed.size()) + " dims");
  graph::Dims dims;
  for (std::size_t i = 0; i < fixed.size(); ++i) {
    if (input.shape && (*input.shape)[i].is_fixed() && (*input.shape)[i].value != fixed[i])
      throw UsageError(source + ": input '" + input.name + "' dim " + std::to_string(i) + " is fixed at " +
                       std::to_string((*input.shape)[i].value) + ", the shape given says " + std::to_string(fixed[i]));
    bool varies = false;
    if (!want->ranges.empty()) varies = want->ranges[i].lower != want->ranges[i].upper;
    for (const auto& s : want->enumerated) varies = varies || s[i] != fixed[i];
    if (varies) {
      const auto& p = input.shape ? (*input.shape)[i].param : std::string();
      dims.emplace_back(p.empty() ? input.name + "_d" + std::to_string(i) : p);
    } else {
      dims.emplace_back(fixed[i]);
    }
  }
  input.shape = dims;
}

Tensor shape_value(const std::vector<std::int64_t>& dims, const graph::Node& node) {
  auto rank = static_cast<std::int64_t>(dims.size());
  auto clamp_axis = [rank](std::int64_t a) { return std::clamp(a < 0 ? a + rank : a, std::int64_t{0}, rank); };
  const std::int64_t start = clamp_axis(node.int_attribute("start").value_or(0));
  const std::int64_t end = clamp_axis(node.int_attribute("end").value_or(rank));
  std::vector<std::int64_t> values(dims.begin() + start, dims.begin() + std::max(start, end));
  return Tensor::from_bytes(DType::I64, {static_cast<std::int64_t>(values.size())},
                            std::as_bytes(std::span(values.data(), values.size())));
}

}  // namespace

std::string graph_label(const graph::Graph& graph) { return "graph '" + graph.name + "'"; }

std::optional<Tensor> PreparedGraph::constant(const std::string& value) const {
  if (auto it = folded.find(value); it != folded.end()) return it->second;
  if (auto it = initializers.find(value); it != initializers.end()) return it->second->tensor;
  return std::nullopt;
}

bool PreparedGraph::is_constant(const std::string& value) const {
  return folded.count(value) || initializers.count(value);
}

std::optional<std::vector<std::int64_t>> PreparedGraph::shape(const std::string& value) const {
  if (auto c = constant(value)) return c->shape();
  if (auto it = shapes.find(value); it != shapes.end()) return it->second;
  return std::nullopt;
}

DType PreparedGraph::dtype(const std::string& value) const {
  if (auto c = constant(value)) return c->dtype();
  auto it = dtypes.find(value);
  return it == dtypes.end() ? DType::F32 : it->second;
}

bool PreparedGraph::is_graph_output(const std::string& value) const {
  return std::any_of(graph.outputs.begin(), graph.outputs.end(), [&](const auto& o) { return o.name == value; });
}

PreparedGraph prepare_graph(const graph::Graph& source_graph, const std::map<std::string, InputShape>& shapes,
                            bool allow_flexible, const std::string& source) {
  PreparedGraph p;
  p.graph = source_graph;
  for (const auto& [name, _] : shapes)
    if (std::none_of(p.graph.inputs.begin(), p.graph.inputs.end(), [&](const auto& in) { return in.name == name; }))
      throw UsageError(source + ": no input named '" + name + "' (a shape was given for it)");
  for (auto& input : p.graph.inputs) {
    auto it = shapes.find(input.name);
    apply_shape(input, it == shapes.end() ? nullptr : &it->second, allow_flexible, source);
  }
  for (const auto& init : p.graph.initializers) p.initializers[init.name] = &init;
  p.shapes = graph::infer_static_shapes(p.graph);
  p.dtypes = graph::infer_dtypes(p.graph);
  for (const auto& node : p.graph.nodes)
    for (std::size_t i = 0; i < node.inputs.size(); ++i)
      if (!node.inputs[i].empty()) p.uses[node.inputs[i]].emplace_back(&node, i);

  // Which nodes fold: Shape of a fully known shape directly, the rest by one ONNX Runtime run.
  std::set<std::string> known;
  for (const auto& init : p.graph.initializers)
    if (init.tensor.nbytes() <= kFoldInputBytes) known.insert(init.name);
  graph::Graph side;
  side.name = p.graph.name + "_folding";
  std::set<std::string> side_inits;
  auto add_side_init = [&](const std::string& name) {
    if (!side_inits.insert(name).second) return;
    if (auto it = p.folded.find(name); it != p.folded.end()) {
      side.initializers.push_back({name, it->second});
    } else {
      side.initializers.push_back(*p.initializers.at(name));
    }
  };
  std::set<std::string> pending_outputs;
  for (const auto& node : p.graph.nodes) {
    if (node.op_type == "Shape") {
      auto s = p.shape(node.inputs[0]);
      if (s && std::none_of(s->begin(), s->end(), [](std::int64_t d) { return d < 0; })) {
        p.folded[node.outputs[0]] = shape_value(*s, node);
        p.folded_nodes.insert(node.name);
        known.insert(node.outputs[0]);
      }
      continue;
    }
    if (!deterministic(node.op_type) || node.outputs.empty()) continue;
    bool all_known = true;
    for (const auto& in : node.inputs) all_known = all_known && (in.empty() || known.count(in));
    if (!all_known) continue;
    bool small = true;
    for (const auto& out : node.outputs) {
      auto s = p.shapes.find(out);
      if (s == p.shapes.end()) continue;
      std::int64_t n = 1;
      for (auto d : s->second) n = d < 0 ? n : n * d;
      small = small && n <= kFoldOutputElements;
    }
    if (!small) continue;
    for (const auto& in : node.inputs)
      if (!in.empty() && !pending_outputs.count(in)) add_side_init(in);
    side.nodes.push_back(node);
    for (const auto& out : node.outputs) {
      known.insert(out);
      pending_outputs.insert(out);
    }
  }
  if (!side.nodes.empty()) {
    for (const auto& node : side.nodes)
      for (const auto& out : node.outputs) side.outputs.push_back({out, p.dtype(out), std::nullopt});
    graph::WriteOptions wo;
    wo.check = false;
    const auto bytes = graph::to_model_bytes(side, wo);
    runtime::Session session(bytes);
    const auto results = session.run({});
    for (const auto& r : results) p.folded[r.name] = r.tensor;
    for (const auto& node : side.nodes) p.folded_nodes.insert(node.name);
  }
  return p;
}

}  // namespace medport::coreml
