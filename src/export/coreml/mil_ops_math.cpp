// Elementwise math, activations, softmax, reductions and casts as MIL ops.
#include <limits>

#include "export/coreml/mil_ops.hpp"

namespace medport::coreml::mil_ops {

namespace {

using Inputs = std::vector<std::pair<std::string, MilArg>>;

// Both operands in one dtype: the node's float precision, or int32/bool as they are.
std::pair<MilVar, MilVar> operands(MilTranslator& t) {
  MilVar a = t.in(0);
  MilVar b = t.in(1);
  if (a.dtype != b.dtype) b = t.in_as(1, a.dtype);
  return {a, b};
}

}  // namespace

void binary(MilTranslator& t, const Node& n) {
  static const std::map<std::string, std::string> ops{
      {"Add", "add"},           {"Sub", "sub"},   {"Mul", "mul"},           {"Div", "real_div"},
      {"Pow", "pow"},           {"Equal", "equal"}, {"Less", "less"},       {"Greater", "greater"},
      {"LessOrEqual", "less_equal"}, {"GreaterOrEqual", "greater_equal"}, {"And", "logical_and"},
      {"Or", "logical_or"},     {"Xor", "logical_xor"}, {"Mod", "mod"}};
  auto [a, b] = operands(t);
  std::string op = ops.at(n.op_type);
  if (op == "real_div" && a.dtype == mil::INT32) op = "floor_div";
  t.emit(op, {{"x", a}, {"y", b}});
}

void variadic(MilTranslator& t, const Node& n) {
  const std::string op = n.op_type == "Max" ? "maximum" : n.op_type == "Min" ? "minimum" : "add";
  MilVar acc = t.in(0);
  if (n.inputs.size() == 1) {
    t.emit("identity", {{"x", acc}});
    return;
  }
  for (std::size_t i = 1; i < n.inputs.size(); ++i) {
    MilVar next = t.in_as(i, acc.dtype);
    if (i + 1 == n.inputs.size()) {
      t.emit(op, {{"x", acc}, {"y", next}});
    } else {
      acc = t.b().op(op, {{"x", acc}, {"y", next}}, t.tmp(op), acc.dtype, t.out_shape());
    }
  }
}

void unary(MilTranslator& t, const Node& n) {
  static const std::map<std::string, std::string> ops{
      {"Relu", "relu"}, {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"}, {"Erf", "erf"},   {"Exp", "exp"},
      {"Sqrt", "sqrt"}, {"Abs", "abs"},         {"Cos", "cos"},   {"Sin", "sin"},   {"Floor", "floor"},
      {"Ceil", "ceil"}, {"Round", "round"},     {"Sign", "sign"}, {"Not", "logical_not"}, {"Softplus", "softplus"},
      {"Softsign", "softsign"}};
  const MilVar x = t.in(0);
  if (n.op_type == "Neg") {
    t.emit("mul", {{"x", x}, {"y", is_float(x.dtype) ? t.b().scalar_f(-1.0, x.dtype, t.tmp("minus_one"))
                                                      : t.b().scalar_i(-1, t.tmp("minus_one"))}});
  } else if (n.op_type == "Reciprocal") {
    t.emit("real_div", {{"x", t.b().scalar_f(1.0, x.dtype, t.tmp("one"))}, {"y", x}});
  } else if (n.op_type == "Log") {
    t.emit("log", {{"x", x}, {"epsilon", t.b().scalar_f(0.0, x.dtype, t.tmp("epsilon"))}});
  } else {
    t.emit(ops.at(n.op_type), {{"x", x}});
  }
}

void activation(MilTranslator& t, const Node& n) {
  const MilVar x = t.in(0);
  const MilDType f = x.dtype;
  if (n.op_type == "LeakyRelu") {
    t.emit("leaky_relu", {{"x", x}, {"alpha", t.b().scalar_f(t.attr_f("alpha", 0.01f), f, t.tmp("alpha"))}});
  } else if (n.op_type == "Elu") {
    t.emit("elu", {{"x", x}, {"alpha", t.b().scalar_f(t.attr_f("alpha", 1.0f), f, t.tmp("alpha"))}});
  } else if (n.op_type == "HardSigmoid") {
    t.emit("sigmoid_hard", {{"x", x},
                            {"alpha", t.b().scalar_f(t.attr_f("alpha", 0.2f), f, t.tmp("alpha"))},
                            {"beta", t.b().scalar_f(t.attr_f("beta", 0.5f), f, t.tmp("beta"))}});
  } else if (n.op_type == "HardSwish") {
    const MilVar gate = t.b().op("sigmoid_hard", {{"x", x},
                                                  {"alpha", t.b().scalar_f(1.0 / 6.0, f, t.tmp("alpha"))},
                                                  {"beta", t.b().scalar_f(0.5, f, t.tmp("beta"))}},
                                 t.tmp("gate"), f, t.out_shape());
    t.emit("mul", {{"x", x}, {"y", gate}});
  } else if (n.op_type == "Gelu") {
    t.emit("gelu", {{"x", x}, {"mode", t.b().text(t.attr_s("approximate", "none") == "tanh" ? "TANH_APPROXIMATION" : "EXACT",
                                                   t.tmp("mode"))}});
  } else {
    t.unsupported("the activation " + n.op_type);
  }
}

void clip(MilTranslator& t, const Node&) {
  const MilVar x = t.in(0);
  const double lo = t.has_input(1) ? t.const_floats(1, "clip bounds").at(0) : -std::numeric_limits<float>::max();
  const double hi = t.has_input(2) ? t.const_floats(2, "clip bounds").at(0) : std::numeric_limits<float>::max();
  const double limit = x.dtype == mil::FLOAT16 ? 65504.0 : std::numeric_limits<float>::max();
  if (lo == 0.0 && !t.has_input(2)) {
    t.emit("relu", {{"x", x}});
    return;
  }
  t.emit("clip", {{"x", x},
                  {"alpha", t.b().scalar_f(std::max(lo, -limit), x.dtype, t.tmp("alpha"))},
                  {"beta", t.b().scalar_f(std::min(hi, limit), x.dtype, t.tmp("beta"))}});
}

void softmax(MilTranslator& t, const Node& n) {
  const MilVar x = t.in(0);
  const std::int64_t axis = t.attr_i("axis", -1);
  const MilVar ax = t.b().scalar_i(axis, t.tmp("axis"));
  if (n.op_type == "Softmax") {
    t.emit("softmax", {{"x", x}, {"axis", ax}});
    return;
  }
  // LogSoftmax: x - log(sum(exp(x))) over the axis.
  auto shape = t.out_shape();
  shape[static_cast<std::size_t>(norm_axis(axis, static_cast<std::int64_t>(shape.size())))] = 1;
  const MilVar lse = t.b().op("reduce_log_sum_exp", {{"x", x}, {"axes", t.b().ints({axis}, t.tmp("axes"))},
                                                    {"keep_dims", t.b().scalar_b(true, t.tmp("keep_dims"))}},
                              t.tmp("log_sum_exp"), x.dtype, shape);
  t.emit("sub", {{"x", x}, {"y", lse}});
}

void reduce(MilTranslator& t, const Node& n) {
  static const std::map<std::string, std::string> ops{
      {"ReduceMean", "reduce_mean"}, {"ReduceSum", "reduce_sum"},   {"ReduceMax", "reduce_max"},
      {"ReduceMin", "reduce_min"},   {"ReduceProd", "reduce_prod"}, {"ReduceL2", "reduce_l2_norm"},
      {"ReduceL1", "reduce_l1_norm"}, {"ReduceSumSquare", "reduce_sum_square"},
      {"ReduceLogSumExp", "reduce_log_sum_exp"}, {"ReduceLogSum", "reduce_log_sum"}};
  std::vector<std::int64_t> axes = t.attr_ints("axes");
  if (axes.empty() && t.has_input(1)) axes = t.const_ints(1, "reduction axes");
  const auto rank = static_cast<std::int64_t>(t.shape_of(0).size());
  if (axes.empty()) {
    if (t.attr_i("noop_with_empty_axes", 0) != 0) {
      t.emit("identity", {{"x", t.in(0)}});
      return;
    }
    for (std::int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  t.emit(ops.at(n.op_type), {{"x", t.in(0)},
                             {"axes", t.b().ints(axes, t.tmp("axes"))},
                             {"keep_dims", t.b().scalar_b(t.attr_i("keepdims", 1) != 0, t.tmp("keep_dims"))}});
}

void argmax(MilTranslator& t, const Node& n) {
  if (t.attr_i("select_last_index", 0) != 0) t.unsupported("select_last_index");
  t.emit(n.op_type == "ArgMax" ? "reduce_argmax" : "reduce_argmin",
         {{"x", t.in(0)},
          {"axis", t.b().scalar_i(t.attr_i("axis", 0), t.tmp("axis"))},
          {"keep_dims", t.b().scalar_b(t.attr_i("keepdims", 1) != 0, t.tmp("keep_dims"))}});
}

void where(MilTranslator& t, const Node&) {
  MilVar a = t.in(1);
  MilVar b = t.in_as(2, a.dtype);
  t.emit("select", {{"cond", t.in_as(0, mil::BOOL)}, {"a", a}, {"b", b}});
}

void cast(MilTranslator& t, const Node&) {
  const MilVar x = t.in(0);
  const MilDType to = t.out_dtype();
  if (x.dtype == to) {
    t.set_out(x);
    return;
  }
  t.emit("cast", {{"x", x}, {"dtype", t.b().text(mil_dtype_name(to), t.tmp("dtype"))}});
}

void identity(MilTranslator& t, const Node&) { t.set_out(t.in(0)); }

}  // namespace medport::coreml::mil_ops
