// VJPs of elementwise ops (broadcasting binary ops reduce back to each operand's shape).
#include <cmath>
#include <numbers>

#include "autodiff_internal.hpp"

namespace medport::graph::autodiff {

namespace {

using Grads = std::vector<Value>;

Value out_grad(VjpContext& c) { return c.output_grads.at(0); }
Value to_input(VjpContext& c, const Value& g, std::size_t i) {
  return unbroadcast(c, g, c.inputs[i], c.shape_of(c.outputs[0]));
}
Value where_positive(VjpContext& c, const Value& x, const Value& if_pos, const Value& if_not) {
  return c.b.where(c.b.greater(x, scalar_of(c.b, x, 0.0), "positive"), if_pos, if_not, "select");
}

Grads add_vjp(VjpContext& c) {
  const Value g = out_grad(c);
  return {c.want(0) ? to_input(c, g, 0) : Value{}, c.want(1) ? to_input(c, g, 1) : Value{}};
}

Grads sub_vjp(VjpContext& c) {
  const Value g = out_grad(c);
  return {c.want(0) ? to_input(c, g, 0) : Value{}, c.want(1) ? to_input(c, c.b.neg(g), 1) : Value{}};
}

Grads mul_vjp(VjpContext& c) {
  const Value g = out_grad(c);
  Grads r(2);
  if (c.want(0)) r[0] = to_input(c, c.b.mul(g, c.inputs[1]), 0);
  if (c.want(1)) r[1] = to_input(c, c.b.mul(g, c.inputs[0]), 1);
  return r;
}

Grads div_vjp(VjpContext& c) {
  const Value g_over_b = c.b.div(out_grad(c), c.inputs[1], "g_over_b");
  Grads r(2);
  if (c.want(0)) r[0] = to_input(c, g_over_b, 0);
  if (c.want(1)) r[1] = to_input(c, c.b.neg(c.b.mul(g_over_b, c.outputs[0])), 1);
  return r;
}

Grads pow_vjp(VjpContext& c) {
  const Value g = out_grad(c);
  const Value& x = c.inputs[0];
  const Value e = c.inputs[1].dtype() == x.dtype() ? c.inputs[1] : c.b.cast(c.inputs[1], x.dtype(), "exponent");
  Grads r(2);
  if (c.want(0)) {
    const Value d = c.b.mul(e, c.b.pow(x, c.b.sub(e, scalar_of(c.b, e, 1.0)), "pow_minus_one"), "dpow");
    r[0] = to_input(c, c.b.mul(g, d), 0);
  }
  if (c.want(1)) r[1] = to_input(c, c.b.mul(g, c.b.mul(c.outputs[0], c.b.log(x))), 1);
  return r;
}

Grads unary(VjpContext& c, const Value& local) { return {c.b.mul(out_grad(c), local, "chain")}; }

Grads sigmoid_vjp(VjpContext& c) {
  const Value& y = c.outputs[0];
  return unary(c, c.b.mul(y, c.b.sub(scalar_of(c.b, y, 1.0), y, "one_minus_y")));
}

Grads tanh_vjp(VjpContext& c) {
  const Value& y = c.outputs[0];
  return unary(c, c.b.sub(scalar_of(c.b, y, 1.0), c.b.mul(y, y), "one_minus_y2"));
}

Grads relu_vjp(VjpContext& c) {
  const Value g = out_grad(c);
  return {where_positive(c, c.inputs[0], g, zeros_like(c.b, g, "zeros"))};
}

Grads leaky_relu_vjp(VjpContext& c) {
  const Value g = out_grad(c);
  return {where_positive(c, c.inputs[0], g, c.b.mul(g, static_cast<double>(c.float_attr("alpha", 0.01f))))};
}

// torch.clamp passes the gradient where min <= x <= max.
Grads clip_vjp(VjpContext& c) {
  const Value g = out_grad(c);
  const Value& x = c.inputs[0];
  Value inside;
  auto both = [&](const Value& cond) { inside = inside.valid() ? c.b.op1("And", {inside, cond}, {}, "inside") : cond; };
  if (c.inputs.size() > 1 && c.inputs[1].valid()) both(c.b.op1("GreaterOrEqual", {x, c.inputs[1]}, {}, "above_min"));
  if (c.inputs.size() > 2 && c.inputs[2].valid()) both(c.b.op1("LessOrEqual", {x, c.inputs[2]}, {}, "below_max"));
  if (!inside.valid()) return {g};
  return {c.b.where(inside, g, zeros_like(c.b, g, "zeros"), "select")};
}

Grads erf_vjp(VjpContext& c) {
  const Value& x = c.inputs[0];
  const Value e = c.b.exp(c.b.neg(c.b.mul(x, x)), "exp_minus_x2");
  return unary(c, c.b.mul(e, 2.0 / std::sqrt(std::numbers::pi)));
}

Grads where_vjp(VjpContext& c) {
  const Value g = out_grad(c);
  const Value zero = zeros_like(c.b, g, "zeros");
  Grads r(3);
  if (c.want(1)) r[1] = to_input(c, c.b.where(c.inputs[0], g, zero, "select_a"), 1);
  if (c.want(2)) r[2] = to_input(c, c.b.where(c.inputs[0], zero, g, "select_b"), 2);
  return r;
}

}  // namespace

void add_elementwise_vjps(std::map<std::string, Vjp>& t) {
  t["Add"] = add_vjp;
  t["Sub"] = sub_vjp;
  t["Mul"] = mul_vjp;
  t["Div"] = div_vjp;
  t["Pow"] = pow_vjp;
  t["Neg"] = [](VjpContext& c) { return Grads{c.b.neg(out_grad(c))}; };
  t["Exp"] = [](VjpContext& c) { return unary(c, c.outputs[0]); };
  t["Log"] = [](VjpContext& c) { return Grads{c.b.div(out_grad(c), c.inputs[0])}; };
  t["Sqrt"] = [](VjpContext& c) { return Grads{c.b.div(out_grad(c), c.b.mul(c.outputs[0], 2.0))}; };
  t["Reciprocal"] = [](VjpContext& c) {
    return Grads{c.b.neg(c.b.mul(out_grad(c), c.b.mul(c.outputs[0], c.outputs[0])))};
  };
  t["Abs"] = [](VjpContext& c) { return unary(c, c.b.op1("Sign", {c.inputs[0]}, {}, "sign")); };
  t["Sin"] = [](VjpContext& c) { return unary(c, c.b.cos(c.inputs[0])); };
  t["Cos"] = [](VjpContext& c) { return unary(c, c.b.neg(c.b.sin(c.inputs[0]))); };
  t["Sigmoid"] = sigmoid_vjp;
  t["Tanh"] = tanh_vjp;
  t["Relu"] = relu_vjp;
  t["LeakyRelu"] = leaky_relu_vjp;
  t["Clip"] = clip_vjp;
  t["Erf"] = erf_vjp;
  t["Where"] = where_vjp;
  t["Identity"] = [](VjpContext& c) { return Grads{out_grad(c)}; };
  t["Cast"] = [](VjpContext& c) { return Grads{c.b.cast(out_grad(c), c.inputs[0].dtype(), "cast_back")}; };
}

}  // namespace medport::graph::autodiff
