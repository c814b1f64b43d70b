// Reverse-mode sweep: seed the loss with ones, walk the nodes backwards, let each node's VJP
// turn its output gradients into input gradients, and sum contributions per value.
#include "medport/graph/autodiff.hpp"

#include <algorithm>
#include <set>

#include "autodiff_internal.hpp"
#include "medport/error.hpp"

namespace medport::graph {

namespace ad = autodiff;

namespace {

bool is_float(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::F16; }

// Values that depend on a wrt value (forward sweep).
std::set<std::string> depending_values(const Graph& g, const std::vector<std::string>& wrt) {
  std::set<std::string> dep(wrt.begin(), wrt.end());
  for (const auto& node : g.nodes) {
    const bool hit = std::any_of(node.inputs.begin(), node.inputs.end(), [&](const auto& in) { return dep.count(in) > 0; });
    if (hit)
      for (const auto& out : node.outputs) dep.insert(out);
  }
  return dep;
}

// Values the loss depends on (backward sweep).
std::set<std::string> loss_ancestors(const Graph& g, const std::string& loss) {
  std::set<std::string> anc{loss};
  for (auto it = g.nodes.rbegin(); it != g.nodes.rend(); ++it) {
    const bool hit = std::any_of(it->outputs.begin(), it->outputs.end(), [&](const auto& o) { return anc.count(o) > 0; });
    if (hit)
      for (const auto& in : it->inputs)
        if (!in.empty()) anc.insert(in);
  }
  return anc;
}

// A gradient has its value's shape: the input's declared dims or the initializer's.
std::optional<Dims> declared_shape(const Graph& g, const std::string& name) {
  for (const auto& in : g.inputs)
    if (in.name == name) return in.shape;
  if (const Initializer* init = g.find_initializer(name)) return Dims(init->tensor.shape().begin(), init->tensor.shape().end());
  return std::nullopt;
}

}  // namespace

std::vector<std::string> differentiable_op_types() {
  std::vector<std::string> ops;
  for (const auto& [op, vjp] : ad::vjp_table()) ops.push_back(op);
  return ops;
}

Graph differentiate(const Graph& forward, const std::string& loss_output, const std::vector<std::string>& wrt,
                    const DifferentiateOptions& options) {
  const auto dtypes = infer_dtypes(forward);
  auto dtype_of = [&](const std::string& name) {
    const auto it = dtypes.find(name);
    if (it == dtypes.end()) throw UsageError("differentiate: graph '" + forward.name + "' has no value '" + name + "'");
    return it->second;
  };
  if (!is_float(dtype_of(loss_output))) throw UsageError("differentiate: the loss '" + loss_output + "' is not float");
  for (const auto& w : wrt) {
    const bool is_input = std::any_of(forward.inputs.begin(), forward.inputs.end(), [&](const auto& i) { return i.name == w; });
    if (!is_input && forward.find_initializer(w) == nullptr)
      throw UsageError("differentiate: '" + w + "' is neither a graph input nor an initializer");
    if (!is_float(dtype_of(w))) throw UsageError("differentiate: '" + w + "' is not float");
  }

  const ad::StaticShapes shapes = infer_static_shapes(forward);
  const auto depends = depending_values(forward, wrt);
  const auto ancestors = loss_ancestors(forward, loss_output);
  auto on_path = [&](const std::string& v) { return !v.empty() && depends.count(v) && ancestors.count(v); };

  Graph start = forward;
  if (!options.keep_forward_outputs) {
    std::erase_if(start.outputs, [&](const ValueInfo& o) { return o.name != loss_output; });
    if (start.outputs.empty()) start.outputs.push_back({loss_output, dtype_of(loss_output), std::nullopt});
  } else if (std::none_of(start.outputs.begin(), start.outputs.end(), [&](const auto& o) { return o.name == loss_output; })) {
    start.outputs.push_back({loss_output, dtype_of(loss_output), std::nullopt});
  }
  Builder b(std::move(start));
  auto scope = b.scope("grad");

  std::map<std::string, std::vector<Value>> pending;  // gradient contributions per value
  auto total = [&](const std::string& name) -> Value {
    auto it = pending.find(name);
    if (it == pending.end() || it->second.empty()) return {};
    auto& parts = it->second;
    if (parts.size() == 1) return parts.front();
    Value sum = b.op1("Sum", parts, {}, "accumulate");
    parts.assign(1, sum);
    return sum;
  };

  {
    const Value loss = b.value(loss_output);
    const Value ones = b.op1("Expand", {b.scalar_like(loss, 1.0, "seed_one"), b.shape(loss, std::nullopt, std::nullopt, "loss_shape")},
                             {}, "seed");
    pending[loss_output].push_back(ones);
  }

  const auto& table = ad::vjp_table();
  for (auto it = forward.nodes.rbegin(); it != forward.nodes.rend(); ++it) {
    const Node& node = *it;
    // Gradients flow only through float outputs (Shape, comparisons, ArgMax... pass none).
    const bool feeds_loss = std::any_of(node.outputs.begin(), node.outputs.end(),
                                        [&](const auto& o) { return on_path(o) && is_float(dtype_of(o)); });
    if (!feeds_loss) continue;
    std::vector<bool> wants;
    bool any = false;
    for (const auto& in : node.inputs) {
      const bool w = on_path(in) && is_float(dtype_of(in));
      wants.push_back(w);
      any = any || w;
    }
    if (!any) continue;
    const auto vjp = table.find(node.op_type);
    if (vjp == table.end() || !node.domain.empty())
      throw UsageError("differentiate: no gradient for op " + node.op_type + " (node '" + node.name + "')");

    auto node_scope = b.scope(node.name);
    ad::VjpContext ctx{b, forward, node, shapes, {}, {}, {}, wants};
    for (const auto& in : node.inputs) ctx.inputs.push_back(in.empty() ? Value{} : b.value(in));
    bool has_grad = false;
    for (const auto& out : node.outputs) {
      ctx.outputs.push_back(out.empty() ? Value{} : b.value(out));
      Value g = out.empty() ? Value{} : total(out);
      has_grad = has_grad || g.valid();
      ctx.output_grads.push_back(g);
    }
    if (!has_grad) continue;
    for (std::size_t i = 0; i < ctx.output_grads.size(); ++i)
      if (!ctx.output_grads[i].valid() && ctx.outputs[i].valid())
        ctx.output_grads[i] = ad::zeros_like(b, ctx.outputs[i], "zero_grad");

    const auto grads = vjp->second(ctx);
    for (std::size_t i = 0; i < node.inputs.size() && i < grads.size(); ++i)
      if (wants[i] && grads[i].valid()) pending[node.inputs[i]].push_back(grads[i]);
  }

  for (const auto& w : wrt) {
    Value g = total(w);
    if (!g.valid()) g = ad::zeros_like(b, b.value(w), "zeros");
    if (g.dtype() != dtype_of(w)) g = b.cast(g, dtype_of(w), "cast_grad");
    b.output(g, options.grad_prefix + w, declared_shape(forward, w));
  }
  return std::move(b).finish();
}

namespace autodiff {

const std::map<std::string, Vjp>& vjp_table() {
  static const std::map<std::string, Vjp> table = [] {
    std::map<std::string, Vjp> t;
    add_elementwise_vjps(t);
    add_shape_vjps(t);
    add_linalg_vjps(t);
    add_resize_vjps(t);
    return t;
  }();
  return table;
}

}  // namespace autodiff

}  // namespace medport::graph
