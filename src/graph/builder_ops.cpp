// Builder: one method per op family, written for opset 13+ (the input/attribute forms that
// changed at 18 follow the builder's opset).
#include <numbers>
#include <utility>

#include "builder_state.hpp"
#include "medport/error.hpp"

namespace medport::graph {

namespace {

using A = Attribute;

// Names the nodes of a decomposed op "<scope>.<hint>.<part>": swaps the scope stack for the
// composite's claimed name while it lives.
class CompositeScope {
 public:
  CompositeScope(std::vector<std::string>& scopes, std::string full_name)
      : scopes_(scopes), saved_(std::exchange(scopes, {std::move(full_name)})) {}
  ~CompositeScope() { scopes_ = std::move(saved_); }
  CompositeScope(const CompositeScope&) = delete;
  CompositeScope& operator=(const CompositeScope&) = delete;

 private:
  std::vector<std::string>& scopes_;
  std::vector<std::string> saved_;
};

void add_if_nonempty(std::vector<Attribute>& attrs, const char* name, const std::vector<std::int64_t>& values) {
  if (!values.empty()) attrs.push_back(A::make_ints(name, values));
}

std::vector<Value> with_optional(std::vector<Value> inputs, const std::optional<Value>& extra) {
  inputs.push_back(extra ? *extra : Value());
  return inputs;
}

}  // namespace

// ---- convolution and normalization --------------------------------------------------------

// The explicit kernel shape, or the spatial dims of the weight when it is an initializer
// (ONNX can infer it from a weight of known shape, but explicit is clearer to readers).
std::vector<std::int64_t> Builder::kernel_shape_or_weights(const std::vector<std::int64_t>& explicit_shape,
                                                          const Value& w) const {
  if (!explicit_shape.empty()) return explicit_shape;
  if (const Tensor* t = state_->initializer_tensor(w.name()); t != nullptr && t->ndim() > 2)
    return {t->shape().begin() + 2, t->shape().end()};
  return {};
}

Value Builder::conv(const Value& x, const Value& w, const std::optional<Value>& b, const ConvOptions& o,
                    std::string_view hint) {
  std::vector<Attribute> attrs;
  add_if_nonempty(attrs, "dilations", o.dilations);
  attrs.push_back(A::make_int("group", o.groups));
  add_if_nonempty(attrs, "kernel_shape", kernel_shape_or_weights(o.kernel_shape, w));
  add_if_nonempty(attrs, "pads", o.pads);
  add_if_nonempty(attrs, "strides", o.strides);
  return op1("Conv", with_optional({x, w}, b), std::move(attrs), hint);
}

Value Builder::conv_transpose(const Value& x, const Value& w, const std::optional<Value>& b,
                              const ConvTransposeOptions& o, std::string_view hint) {
  std::vector<Attribute> attrs;
  add_if_nonempty(attrs, "dilations", o.dilations);
  attrs.push_back(A::make_int("group", o.groups));
  add_if_nonempty(attrs, "kernel_shape", kernel_shape_or_weights(o.kernel_shape, w));
  add_if_nonempty(attrs, "output_padding", o.output_padding);
  add_if_nonempty(attrs, "pads", o.pads);
  add_if_nonempty(attrs, "strides", o.strides);
  return op1("ConvTranspose", with_optional({x, w}, b), std::move(attrs), hint);
}

Value Builder::instance_norm(const Value& x, const Value& scale, const Value& bias, float epsilon,
                             std::string_view hint) {
  return op1("InstanceNormalization", {x, scale, bias}, {A::make_float("epsilon", epsilon)}, hint);
}

Value Builder::group_norm(const Value& x, std::int64_t groups, const std::optional<Value>& scale,
                          const std::optional<Value>& bias, float epsilon, std::string_view hint) {
  if (groups < 1) throw UsageError("group_norm: groups must be positive");
  CompositeScope composite(state_->scopes, state_->claim_node(hint.empty() ? "group_norm" : hint));
  auto fp32 = keep_fp32();
  const Value x32 = x.dtype() == DType::F32 ? x : cast(x, DType::F32, "cast_in");
  const Value in_shape = shape(x32, std::nullopt, std::nullopt, "shape");
  Value y = reshape(x32, std::vector<std::int64_t>{0, groups, -1}, "reshape_groups");
  const std::vector<float> ones(static_cast<std::size_t>(groups), 1.0f), zeros(static_cast<std::size_t>(groups), 0.0f);
  y = instance_norm(y, const_f32(ones, {groups}, "ones"), const_f32(zeros, {groups}, "zeros"), epsilon, "norm");
  if (scale || bias) {
    // [N, C, -1]: lets per-channel [C, 1] parameters broadcast without knowing x's rank.
    const Value nc = slice(in_shape, {0}, {2}, {0}, {}, "shape_nc");
    y = reshape(y, concat({nc, const_i64({-1}, "minus_one")}, 0, "shape_nc1"), "reshape_channels");
    auto per_channel = [&](const Value& p, const std::string& part) {
      const Value p32 = p.dtype() == DType::F32 ? p : cast(p, DType::F32, part + "_f32");
      return reshape(p32, std::vector<std::int64_t>{-1, 1}, part + "_c1");
    };
    if (scale) y = mul(y, per_channel(*scale, "scale"), "mul_scale");
    if (bias) y = add(y, per_channel(*bias, "bias"), "add_bias");
  }
  y = reshape(y, in_shape, "reshape_out");
  if (x.dtype() != DType::F32) y = cast(y, x.dtype(), "cast_out");
  return y;
}

Value Builder::layer_norm(const Value& x, const Value& scale, const std::optional<Value>& bias, std::int64_t axis,
                          float epsilon, std::string_view hint) {
  return op1("LayerNormalization", with_optional({x, scale}, bias),
             {A::make_int("axis", axis), A::make_float("epsilon", epsilon)}, hint);
}

Value Builder::batch_norm(const Value& x, const Value& scale, const Value& bias, const Value& mean, const Value& var,
                          float epsilon, std::string_view hint) {
  return op1("BatchNormalization", {x, scale, bias, mean, var}, {A::make_float("epsilon", epsilon)}, hint);
}

// ---- activations and elementwise math -----------------------------------------------------

Value Builder::relu(const Value& x, std::string_view hint) { return op1("Relu", {x}, {}, hint); }
Value Builder::leaky_relu(const Value& x, float alpha, std::string_view hint) {
  return op1("LeakyRelu", {x}, {A::make_float("alpha", alpha)}, hint);
}
Value Builder::sigmoid(const Value& x, std::string_view hint) { return op1("Sigmoid", {x}, {}, hint); }
Value Builder::tanh(const Value& x, std::string_view hint) { return op1("Tanh", {x}, {}, hint); }
Value Builder::erf(const Value& x, std::string_view hint) { return op1("Erf", {x}, {}, hint); }
Value Builder::cos(const Value& x, std::string_view hint) { return op1("Cos", {x}, {}, hint); }
Value Builder::sin(const Value& x, std::string_view hint) { return op1("Sin", {x}, {}, hint); }
Value Builder::exp(const Value& x, std::string_view hint) { return op1("Exp", {x}, {}, hint); }
Value Builder::log(const Value& x, std::string_view hint) { return op1("Log", {x}, {}, hint); }
Value Builder::sqrt(const Value& x, std::string_view hint) { return op1("Sqrt", {x}, {}, hint); }
Value Builder::neg(const Value& x, std::string_view hint) { return op1("Neg", {x}, {}, hint); }
Value Builder::abs(const Value& x, std::string_view hint) { return op1("Abs", {x}, {}, hint); }
Value Builder::reciprocal(const Value& x, std::string_view hint) { return op1("Reciprocal", {x}, {}, hint); }

Value Builder::silu(const Value& x, std::string_view hint) {
  CompositeScope composite(state_->scopes, state_->claim_node(hint.empty() ? "silu" : hint));
  return mul(x, sigmoid(x, "sigmoid"), "mul");
}

Value Builder::gelu(const Value& x, std::string_view hint) {
  CompositeScope composite(state_->scopes, state_->claim_node(hint.empty() ? "gelu" : hint));
  const Value e = erf(mul(x, 1.0 / std::numbers::sqrt2, "scale"), "erf");
  return mul(mul(x, add(e, 1.0, "one_plus"), "mul"), 0.5, "half");
}

Value Builder::hard_sigmoid(const Value& x, std::string_view hint) {
  return op1("HardSigmoid", {x}, {A::make_float("alpha", 1.0f / 6.0f), A::make_float("beta", 0.5f)}, hint);
}

Value Builder::hard_swish(const Value& x, std::string_view hint) { return op1("HardSwish", {x}, {}, hint); }

Value Builder::add(const Value& a, const Value& b, std::string_view hint) { return op1("Add", {a, b}, {}, hint); }
Value Builder::sub(const Value& a, const Value& b, std::string_view hint) { return op1("Sub", {a, b}, {}, hint); }
Value Builder::mul(const Value& a, const Value& b, std::string_view hint) { return op1("Mul", {a, b}, {}, hint); }
Value Builder::div(const Value& a, const Value& b, std::string_view hint) { return op1("Div", {a, b}, {}, hint); }
Value Builder::pow(const Value& a, const Value& b, std::string_view hint) { return op1("Pow", {a, b}, {}, hint); }
Value Builder::add(const Value& a, double b, std::string_view hint) { return add(a, scalar_like(a, b), hint); }
Value Builder::sub(const Value& a, double b, std::string_view hint) { return sub(a, scalar_like(a, b), hint); }
Value Builder::mul(const Value& a, double b, std::string_view hint) { return mul(a, scalar_like(a, b), hint); }
Value Builder::div(const Value& a, double b, std::string_view hint) { return div(a, scalar_like(a, b), hint); }
Value Builder::pow(const Value& a, double b, std::string_view hint) { return pow(a, scalar_like(a, b), hint); }

Value Builder::where(const Value& condition, const Value& a, const Value& b, std::string_view hint) {
  return op1("Where", {condition, a, b}, {}, hint);
}

Value Builder::clip(const Value& x, std::optional<double> min, std::optional<double> max, std::string_view hint) {
  std::vector<Value> inputs{x, min ? scalar_like(x, *min, "min") : Value(), max ? scalar_like(x, *max, "max") : Value()};
  return op1("Clip", inputs, {}, hint);
}

Value Builder::equal(const Value& a, const Value& b, std::string_view hint) { return op1("Equal", {a, b}, {}, hint); }
Value Builder::less(const Value& a, const Value& b, std::string_view hint) { return op1("Less", {a, b}, {}, hint); }
Value Builder::greater(const Value& a, const Value& b, std::string_view hint) {
  return op1("Greater", {a, b}, {}, hint);
}

// ---- linear algebra -----------------------------------------------------------------------

Value Builder::matmul(const Value& a, const Value& b, std::string_view hint) { return op1("MatMul", {a, b}, {}, hint); }

Value Builder::gemm(const Value& a, const Value& b, const std::optional<Value>& c, const GemmOptions& o,
                    std::string_view hint) {
  return op1("Gemm", with_optional({a, b}, c),
             {A::make_float("alpha", o.alpha), A::make_float("beta", o.beta), A::make_int("transA", o.trans_a ? 1 : 0),
              A::make_int("transB", o.trans_b ? 1 : 0)},
             hint);
}

Value Builder::linear(const Value& x, const Value& w, const std::optional<Value>& b, std::string_view hint) {
  CompositeScope composite(state_->scopes, state_->claim_node(hint.empty() ? "linear" : hint));
  Value y = matmul(x, transpose(w, {1, 0}, "weight_t"), "matmul");
  if (b) y = add(y, *b, "add_bias");
  return y;
}

Value Builder::softmax(const Value& x, std::int64_t axis, std::string_view hint) {
  return op1("Softmax", {x}, {A::make_int("axis", axis)}, hint);
}

Value Builder::log_softmax(const Value& x, std::int64_t axis, std::string_view hint) {
  return op1("LogSoftmax", {x}, {A::make_int("axis", axis)}, hint);
}

// ---- shape manipulation -------------------------------------------------------------------

Value Builder::reshape(const Value& x, const std::vector<std::int64_t>& shape, std::string_view hint) {
  return reshape(x, const_i64(shape, std::string(hint.empty() ? "reshape" : hint) + ".shape"), hint);
}

Value Builder::reshape(const Value& x, const Value& shape, std::string_view hint) {
  return op1("Reshape", {x, shape}, {}, hint);
}

Value Builder::transpose(const Value& x, const std::vector<std::int64_t>& perm, std::string_view hint) {
  return op1("Transpose", {x}, {A::make_ints("perm", perm)}, hint);
}

Value Builder::concat(const std::vector<Value>& xs, std::int64_t axis, std::string_view hint) {
  if (xs.empty()) throw UsageError("concat of nothing");
  return op1("Concat", xs, {A::make_int("axis", axis)}, hint);
}

std::vector<Value> Builder::split(const Value& x, std::int64_t axis, const std::vector<std::int64_t>& sizes,
                                  std::string_view hint) {
  if (sizes.empty()) throw UsageError("split: no sizes");
  const Value split_sizes = const_i64(sizes, std::string(hint.empty() ? "split" : hint) + ".sizes");
  return op("Split", {x, split_sizes}, {A::make_int("axis", axis)}, static_cast<int>(sizes.size()), hint);
}

std::vector<Value> Builder::split_equal(const Value& x, std::int64_t axis, int parts, std::string_view hint) {
  if (parts < 1) throw UsageError("split_equal: parts must be positive");
  std::vector<Attribute> attrs{A::make_int("axis", axis)};
  if (opset() >= 18) attrs.push_back(A::make_int("num_outputs", parts));
  return op("Split", {x}, std::move(attrs), parts, hint);
}

Value Builder::slice(const Value& x, const std::vector<std::int64_t>& starts, const std::vector<std::int64_t>& ends,
                     const std::vector<std::int64_t>& axes, const std::vector<std::int64_t>& steps,
                     std::string_view hint) {
  if (starts.size() != ends.size() || starts.size() != axes.size() || (!steps.empty() && steps.size() != axes.size()))
    throw UsageError("slice: starts, ends, axes (and steps) must have the same length");
  const std::string h(hint.empty() ? "slice" : hint);
  std::optional<Value> step_value;
  if (!steps.empty()) step_value = const_i64(steps, h + ".steps");
  return slice(x, const_i64(starts, h + ".starts"), const_i64(ends, h + ".ends"), const_i64(axes, h + ".axes"),
               step_value, hint);
}

Value Builder::slice(const Value& x, const Value& starts, const Value& ends, const Value& axes,
                     const std::optional<Value>& steps, std::string_view hint) {
  return op1("Slice", with_optional({x, starts, ends, axes}, steps), {}, hint);
}

Value Builder::squeeze(const Value& x, const std::vector<std::int64_t>& axes, std::string_view hint) {
  return op1("Squeeze", {x, const_i64(axes, std::string(hint.empty() ? "squeeze" : hint) + ".axes")}, {}, hint);
}

Value Builder::unsqueeze(const Value& x, const std::vector<std::int64_t>& axes, std::string_view hint) {
  return op1("Unsqueeze", {x, const_i64(axes, std::string(hint.empty() ? "unsqueeze" : hint) + ".axes")}, {}, hint);
}

Value Builder::flatten(const Value& x, std::int64_t axis, std::string_view hint) {
  return op1("Flatten", {x}, {A::make_int("axis", axis)}, hint);
}

Value Builder::expand(const Value& x, const Value& shape, std::string_view hint) {
  return op1("Expand", {x, shape}, {}, hint);
}

Value Builder::tile(const Value& x, const Value& repeats, std::string_view hint) {
  return op1("Tile", {x, repeats}, {}, hint);
}

Value Builder::pad(const Value& x, const std::vector<std::int64_t>& pads, const std::string& mode, double value,
                   std::string_view hint) {
  const std::string h(hint.empty() ? "pad" : hint);
  std::vector<Value> inputs{x, const_i64(pads, h + ".pads")};
  if (mode == "constant") inputs.push_back(scalar_like(x, value, h + ".value"));
  return op1("Pad", inputs, {A::make_string("mode", mode)}, hint);
}

Value Builder::identity(const Value& x, std::string_view hint) { return op1("Identity", {x}, {}, hint); }

Value Builder::cast(const Value& x, DType to, std::string_view hint) {
  return op1("Cast", {x}, {A::make_int("to", onnx_data_type(to))}, hint);
}

Value Builder::shape(const Value& x, std::optional<std::int64_t> start, std::optional<std::int64_t> end,
                     std::string_view hint) {
  std::vector<Attribute> attrs;
  if ((start || end) && opset() < 15) throw UsageError("shape: start/end need opset 15 or newer");
  if (start) attrs.push_back(A::make_int("start", *start));
  if (end) attrs.push_back(A::make_int("end", *end));
  return op1("Shape", {x}, std::move(attrs), hint);
}

Value Builder::gather(const Value& x, const Value& indices, std::int64_t axis, std::string_view hint) {
  return op1("Gather", {x, indices}, {A::make_int("axis", axis)}, hint);
}

Value Builder::gather(const Value& x, std::int64_t index, std::int64_t axis, std::string_view hint) {
  const Value idx = scalar(static_cast<double>(index), DType::I64, std::string(hint.empty() ? "gather" : hint) + ".index");
  return gather(x, idx, axis, hint);
}

Value Builder::constant_of_shape(const Value& shape, double value, DType dtype, std::string_view hint) {
  return op1("ConstantOfShape", {shape}, {A::make_tensor("value", scalar_tensor(value, dtype).reshaped({1}))}, hint);
}

Value Builder::range(const Value& start, const Value& limit, const Value& delta, std::string_view hint) {
  return op1("Range", {start, limit, delta}, {}, hint);
}

// ---- resampling and pooling ---------------------------------------------------------------

namespace {

std::vector<Attribute> resize_attributes(const ResizeOptions& o) {
  std::vector<Attribute> attrs{A::make_string("coordinate_transformation_mode", o.coordinate_transformation_mode),
                               A::make_string("mode", o.mode)};
  if (o.mode == "nearest") attrs.push_back(A::make_string("nearest_mode", o.nearest_mode));
  if (o.mode == "cubic") attrs.push_back(A::make_float("cubic_coeff_a", o.cubic_coeff_a));
  return attrs;
}

std::vector<Attribute> pool_attributes(const PoolOptions& o, bool is_max) {
  if (o.kernel_shape.empty()) throw UsageError("pooling needs a kernel_shape");
  std::vector<Attribute> attrs;
  if (o.ceil_mode) attrs.push_back(A::make_int("ceil_mode", 1));
  if (!is_max && o.count_include_pad) attrs.push_back(A::make_int("count_include_pad", 1));
  if (is_max) add_if_nonempty(attrs, "dilations", o.dilations);
  attrs.push_back(A::make_ints("kernel_shape", o.kernel_shape));
  add_if_nonempty(attrs, "pads", o.pads);
  add_if_nonempty(attrs, "strides", o.strides);
  return attrs;
}

}  // namespace

Value Builder::resize(const Value& x, const std::vector<float>& scales, const ResizeOptions& options,
                      std::string_view hint) {
  const Value s = const_f32(scales, {static_cast<std::int64_t>(scales.size())},
                            std::string(hint.empty() ? "resize" : hint) + ".scales");
  return op1("Resize", {x, Value(), s}, resize_attributes(options), hint);
}

Value Builder::resize_to(const Value& x, const std::vector<std::int64_t>& sizes, const ResizeOptions& options,
                         std::string_view hint) {
  return resize_to(x, const_i64(sizes, std::string(hint.empty() ? "resize" : hint) + ".sizes"), options, hint);
}

Value Builder::resize_to(const Value& x, const Value& sizes, const ResizeOptions& options, std::string_view hint) {
  return op1("Resize", {x, Value(), Value(), sizes}, resize_attributes(options), hint);
}

Value Builder::avg_pool(const Value& x, const PoolOptions& options, std::string_view hint) {
  return op1("AveragePool", {x}, pool_attributes(options, false), hint);
}

Value Builder::max_pool(const Value& x, const PoolOptions& options, std::string_view hint) {
  return op1("MaxPool", {x}, pool_attributes(options, true), hint);
}

Value Builder::global_avg_pool(const Value& x, std::string_view hint) {
  return op1("GlobalAveragePool", {x}, {}, hint);
}

// ---- reductions ---------------------------------------------------------------------------

namespace {

// ReduceSum takes axes as an input since opset 13, the other reductions since opset 18.
bool axes_are_input(const std::string& op_type, int opset) {
  return opset >= 18 || (op_type == "ReduceSum" && opset >= 13);
}

}  // namespace

Value Builder::reduce_mean(const Value& x, const std::vector<std::int64_t>& axes, bool keepdims,
                           std::string_view hint) {
  return reduce("ReduceMean", x, axes, keepdims, hint);
}

Value Builder::reduce_sum(const Value& x, const std::vector<std::int64_t>& axes, bool keepdims,
                          std::string_view hint) {
  return reduce("ReduceSum", x, axes, keepdims, hint);
}

Value Builder::reduce_max(const Value& x, const std::vector<std::int64_t>& axes, bool keepdims,
                          std::string_view hint) {
  return reduce("ReduceMax", x, axes, keepdims, hint);
}

Value Builder::reduce(const std::string& op_type, const Value& x, const std::vector<std::int64_t>& axes,
                      bool keepdims, std::string_view hint) {
  std::vector<Attribute> attrs{A::make_int("keepdims", keepdims ? 1 : 0)};
  if (!axes_are_input(op_type, opset())) {
    if (!axes.empty()) attrs.push_back(A::make_ints("axes", axes));
    return op1(op_type, {x}, std::move(attrs), hint);
  }
  std::vector<Value> inputs{x};
  if (!axes.empty()) inputs.push_back(const_i64(axes, std::string(hint.empty() ? "reduce" : hint) + ".axes"));
  return op1(op_type, inputs, std::move(attrs), hint);
}

Value Builder::argmax(const Value& x, std::int64_t axis, bool keepdims, std::string_view hint) {
  return op1("ArgMax", {x}, {A::make_int("axis", axis), A::make_int("keepdims", keepdims ? 1 : 0)}, hint);
}

}  // namespace medport::graph
