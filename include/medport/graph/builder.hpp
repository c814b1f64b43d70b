#pragma once
// Builds a graph::Graph one op at a time with typed handles and readable, unique names.
//
//   graph::Builder b("nnunet");
//   auto x = b.input("image", DType::F32, {"N", 1, "H", "W"});
//   auto s = b.scope("encoder.stages.0");                // names below start with this prefix
//   auto w = b.initializer("encoder.stages.0.conv.weight", weight_tensor);
//   graph::ConvOptions o;
//   o.pads = graph::symmetric_pads({1, 1});
//   auto y = b.conv(x, w, std::nullopt, o, "conv");
//   b.output(b.leaky_relu(y, 0.01f), "logits");
//   graph::Graph g = std::move(b).finish();
//
// Every op method takes an optional trailing `hint`: the node is named "<scope>.<hint>"
// (hint defaults to the op's name, e.g. "conv"); a clash gets a "_1", "_2"... suffix. A node's
// single output value carries the node's name; multi-output nodes name them "<node>.0", ".1"...
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "medport/graph/ir.hpp"

namespace medport::graph {

// Typed handle on a value of the graph under construction.
class Value {
 public:
  Value() = default;
  Value(std::string name, DType dtype) : name_(std::move(name)), dtype_(dtype) {}
  const std::string& name() const { return name_; }
  DType dtype() const { return dtype_; }
  bool valid() const { return !name_.empty(); }

 private:
  std::string name_;
  DType dtype_ = DType::F32;
};

// [p0, p1, ...] -> ONNX pads [p0, p1, ..., p0, p1, ...] (same padding at both ends).
std::vector<std::int64_t> symmetric_pads(const std::vector<std::int64_t>& per_axis);

// Option structs: assign the fields you need (`ConvOptions o; o.pads = ...;`). GCC 12 warns
// (-Wmissing-field-initializers) on designated initializers that skip fields.
struct ConvOptions {
  std::vector<std::int64_t> strides;       // empty: 1 on every spatial axis
  std::vector<std::int64_t> pads;          // ONNX order: all begins, then all ends; empty: 0
  std::vector<std::int64_t> dilations;     // empty: 1
  std::int64_t groups = 1;
  std::vector<std::int64_t> kernel_shape;  // empty: taken from the weight initializer if known
};

struct ConvTransposeOptions {
  std::vector<std::int64_t> strides;
  std::vector<std::int64_t> pads;
  std::vector<std::int64_t> dilations;
  std::vector<std::int64_t> output_padding;
  std::int64_t groups = 1;
  std::vector<std::int64_t> kernel_shape;
};

struct PoolOptions {
  std::vector<std::int64_t> kernel_shape;  // required
  std::vector<std::int64_t> strides;       // empty: 1
  std::vector<std::int64_t> pads;          // empty: 0
  std::vector<std::int64_t> dilations;     // MaxPool only; empty: 1
  bool ceil_mode = false;
  bool count_include_pad = false;          // AveragePool only (PyTorch's default is true!)
};

struct GemmOptions {
  float alpha = 1.0f;
  float beta = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
};

struct ResizeOptions {
  std::string mode = "nearest";                                // "nearest" | "linear" | "cubic"
  std::string coordinate_transformation_mode = "asymmetric";  // half_pixel, pytorch_half_pixel, align_corners, ...
  std::string nearest_mode = "floor";                          // used by mode "nearest"
  float cubic_coeff_a = -0.75f;

  // F.interpolate(mode="nearest").
  static ResizeOptions torch_nearest() { return {}; }
  // F.interpolate(mode="bilinear"/"trilinear", align_corners=...).
  static ResizeOptions torch_linear(bool align_corners) {
    return {"linear", align_corners ? "align_corners" : "pytorch_half_pixel", "floor", -0.75f};
  }
};

class Builder {
 public:
  explicit Builder(std::string graph_name = "medport", int opset = 17);
  // Continues building on an existing graph (e.g. to append a gradient graph): its value and
  // node names are reserved and its values can be fetched with value().
  explicit Builder(Graph existing);
  ~Builder();
  Builder(Builder&&) noexcept;
  Builder& operator=(Builder&&) noexcept;

  // ---- naming -------------------------------------------------------------------------
  // RAII name prefix; nested scopes join with '.': scope("encoder") + scope("stages.0").
  // Scopes must not outlive their Builder; finish() ends all of them.
  class [[nodiscard]] Scope {
   public:
    ~Scope();
    Scope(Scope&&) noexcept;
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;

   private:
    friend class Builder;
    Scope(Builder* owner, std::size_t depth) : owner_(owner), depth_(depth) {}
    Builder* owner_;
    std::size_t depth_;  // scope stack size while this scope is the innermost
  };
  Scope scope(std::string_view prefix);
  // RAII: nodes created while it lives are marked keep_fp32 (the fp16 pass leaves them fp32).
  class [[nodiscard]] Fp32Scope {
   public:
    ~Fp32Scope();
    Fp32Scope(Fp32Scope&&) noexcept;
    Fp32Scope(const Fp32Scope&) = delete;
    Fp32Scope& operator=(const Fp32Scope&) = delete;
    Fp32Scope& operator=(Fp32Scope&&) = delete;

   private:
    friend class Builder;
    explicit Fp32Scope(Builder* owner) : owner_(owner) {}
    Builder* owner_;
  };
  Fp32Scope keep_fp32();
  std::string prefix() const;  // current scope prefix ("" at top level)

  // ---- graph interface ----------------------------------------------------------------
  // Graph input with an exact name; symbolic dims ("N", "H") make the axis dynamic.
  Value input(const std::string& name, DType dtype, Dims shape);
  // Declares `v` a graph output. With a different `name`, an Identity node produces it; an
  // automatically named internal value already called `name` is renamed ("name_1") and the
  // handles on it keep working. Inputs and initializers are never renamed (UsageError).
  void output(const Value& v, const std::string& name = {}, std::optional<Dims> shape = std::nullopt);
  void set_metadata(const std::string& key, const std::string& value);  // replaces an existing key
  void set_doc_string(const std::string& text);

  // ---- constants (all stored as initializers) -----------------------------------------
  // Initializer with this exact name (checkpoint keys); the tensor's storage is shared.
  // A name already taken gets a "_1"... suffix.
  Value initializer(const std::string& name, Tensor tensor);
  Value constant(Tensor tensor, std::string_view hint = "const");
  Value scalar(double value, DType dtype = DType::F32, std::string_view hint = "scalar");  // 0-d
  Value scalar_like(const Value& like, double value, std::string_view hint = "scalar");    // like's dtype
  Value const_i64(const std::vector<std::int64_t>& values, std::string_view hint = "const");  // 1-D
  Value const_f32(const std::vector<float>& values, Shape shape, std::string_view hint = "const");
  // Handle on an existing value (graph input, initializer or node output) by name. For an
  // output made by output(v, name) this is v (the same data).
  Value value(const std::string& name) const;

  // ---- convolution and normalization --------------------------------------------------
  Value conv(const Value& x, const Value& w, const std::optional<Value>& b, const ConvOptions& options = {},
             std::string_view hint = "conv");
  Value conv_transpose(const Value& x, const Value& w, const std::optional<Value>& b,
                       const ConvTransposeOptions& options = {}, std::string_view hint = "conv_transpose");
  Value instance_norm(const Value& x, const Value& scale, const Value& bias, float epsilon = 1e-5f,
                      std::string_view hint = "instance_norm");
  // torch.nn.GroupNorm: Reshape [N,G,-1] -> InstanceNormalization -> Reshape [N,C,-1] -> Mul -> Add
  // -> Reshape to x's shape, computed in float32 (casts around it when x is not float32).
  // scale/bias: per-channel [C] (either may be absent).
  Value group_norm(const Value& x, std::int64_t groups, const std::optional<Value>& scale,
                   const std::optional<Value>& bias, float epsilon = 1e-5f, std::string_view hint = "group_norm");
  // LayerNormalization-17 over the axes from `axis` to the last.
  Value layer_norm(const Value& x, const Value& scale, const std::optional<Value>& bias, std::int64_t axis = -1,
                   float epsilon = 1e-5f, std::string_view hint = "layer_norm");
  // Inference-mode BatchNormalization.
  Value batch_norm(const Value& x, const Value& scale, const Value& bias, const Value& mean, const Value& var,
                   float epsilon = 1e-5f, std::string_view hint = "batch_norm");

  // ---- activations and elementwise math -----------------------------------------------
  Value relu(const Value& x, std::string_view hint = "relu");
  Value leaky_relu(const Value& x, float alpha = 0.01f, std::string_view hint = "leaky_relu");
  Value sigmoid(const Value& x, std::string_view hint = "sigmoid");
  Value tanh(const Value& x, std::string_view hint = "tanh");
  Value silu(const Value& x, std::string_view hint = "silu");  // x * Sigmoid(x)
  Value gelu(const Value& x, std::string_view hint = "gelu");  // exact: 0.5 x (1 + erf(x / sqrt 2))
  // torch.nn.Hardsigmoid relu6(x + 3) / 6 and Hardswish x * relu6(x + 3) / 6 (ONNX HardSigmoid /
  // HardSwish with alpha 1/6, beta 0.5).
  Value hard_sigmoid(const Value& x, std::string_view hint = "hard_sigmoid");
  Value hard_swish(const Value& x, std::string_view hint = "hard_swish");
  Value erf(const Value& x, std::string_view hint = "erf");
  Value cos(const Value& x, std::string_view hint = "cos");
  Value sin(const Value& x, std::string_view hint = "sin");
  Value exp(const Value& x, std::string_view hint = "exp");
  Value log(const Value& x, std::string_view hint = "log");
  Value sqrt(const Value& x, std::string_view hint = "sqrt");
  Value neg(const Value& x, std::string_view hint = "neg");
  Value abs(const Value& x, std::string_view hint = "abs");
  Value reciprocal(const Value& x, std::string_view hint = "reciprocal");
  Value add(const Value& a, const Value& b, std::string_view hint = "add");
  Value sub(const Value& a, const Value& b, std::string_view hint = "sub");
  Value mul(const Value& a, const Value& b, std::string_view hint = "mul");
  Value div(const Value& a, const Value& b, std::string_view hint = "div");
  Value pow(const Value& a, const Value& b, std::string_view hint = "pow");
  // With a scalar right-hand side of a's dtype.
  Value add(const Value& a, double b, std::string_view hint = "add");
  Value sub(const Value& a, double b, std::string_view hint = "sub");
  Value mul(const Value& a, double b, std::string_view hint = "mul");
  Value div(const Value& a, double b, std::string_view hint = "div");
  Value pow(const Value& a, double b, std::string_view hint = "pow");
  Value where(const Value& condition, const Value& a, const Value& b, std::string_view hint = "where");
  // Clip with optional bounds (constants of x's dtype).
  Value clip(const Value& x, std::optional<double> min, std::optional<double> max, std::string_view hint = "clip");
  Value equal(const Value& a, const Value& b, std::string_view hint = "equal");
  Value less(const Value& a, const Value& b, std::string_view hint = "less");
  Value greater(const Value& a, const Value& b, std::string_view hint = "greater");

  // ---- linear algebra -----------------------------------------------------------------
  Value matmul(const Value& a, const Value& b, std::string_view hint = "matmul");
  Value gemm(const Value& a, const Value& b, const std::optional<Value>& c, const GemmOptions& options = {},
             std::string_view hint = "gemm");
  // torch.nn.Linear on inputs of any rank: MatMul(x, Transpose(W[out,in])) + b.
  Value linear(const Value& x, const Value& w, const std::optional<Value>& b, std::string_view hint = "linear");
  Value softmax(const Value& x, std::int64_t axis = -1, std::string_view hint = "softmax");
  Value log_softmax(const Value& x, std::int64_t axis = -1, std::string_view hint = "log_softmax");

  // ---- shape manipulation -------------------------------------------------------------
  Value reshape(const Value& x, const std::vector<std::int64_t>& shape, std::string_view hint = "reshape");  // 0/-1 ok
  Value reshape(const Value& x, const Value& shape, std::string_view hint = "reshape");
  Value transpose(const Value& x, const std::vector<std::int64_t>& perm, std::string_view hint = "transpose");
  Value concat(const std::vector<Value>& xs, std::int64_t axis, std::string_view hint = "concat");
  // Split into pieces of the given sizes along `axis`.
  std::vector<Value> split(const Value& x, std::int64_t axis, const std::vector<std::int64_t>& sizes,
                           std::string_view hint = "split");
  // Split into `parts` equal pieces.
  std::vector<Value> split_equal(const Value& x, std::int64_t axis, int parts, std::string_view hint = "split");
  Value slice(const Value& x, const std::vector<std::int64_t>& starts, const std::vector<std::int64_t>& ends,
              const std::vector<std::int64_t>& axes, const std::vector<std::int64_t>& steps = {},
              std::string_view hint = "slice");
  Value slice(const Value& x, const Value& starts, const Value& ends, const Value& axes,
              const std::optional<Value>& steps = std::nullopt, std::string_view hint = "slice");
  Value squeeze(const Value& x, const std::vector<std::int64_t>& axes, std::string_view hint = "squeeze");
  Value unsqueeze(const Value& x, const std::vector<std::int64_t>& axes, std::string_view hint = "unsqueeze");
  Value flatten(const Value& x, std::int64_t axis = 1, std::string_view hint = "flatten");
  Value expand(const Value& x, const Value& shape, std::string_view hint = "expand");
  Value tile(const Value& x, const Value& repeats, std::string_view hint = "tile");
  // Pad-13+: pads in ONNX order over all axes; mode "constant" | "reflect" | "edge".
  Value pad(const Value& x, const std::vector<std::int64_t>& pads, const std::string& mode = "constant",
            double value = 0.0, std::string_view hint = "pad");
  Value identity(const Value& x, std::string_view hint = "identity");
  Value cast(const Value& x, DType to, std::string_view hint = "cast");
  // Shape-15 with optional start/end; returns int64 [k].
  Value shape(const Value& x, std::optional<std::int64_t> start = std::nullopt,
              std::optional<std::int64_t> end = std::nullopt, std::string_view hint = "shape");
  Value gather(const Value& x, const Value& indices, std::int64_t axis = 0, std::string_view hint = "gather");
  // Gather with a constant scalar index (drops the axis).
  Value gather(const Value& x, std::int64_t index, std::int64_t axis = 0, std::string_view hint = "gather");
  Value constant_of_shape(const Value& shape, double value, DType dtype = DType::F32,
                          std::string_view hint = "constant_of_shape");
  Value range(const Value& start, const Value& limit, const Value& delta, std::string_view hint = "range");

  // ---- resampling and pooling ---------------------------------------------------------
  // scales cover every axis (N and C included, usually 1).
  Value resize(const Value& x, const std::vector<float>& scales, const ResizeOptions& options = {},
               std::string_view hint = "resize");
  Value resize_to(const Value& x, const std::vector<std::int64_t>& sizes, const ResizeOptions& options = {},
                  std::string_view hint = "resize");
  Value resize_to(const Value& x, const Value& sizes, const ResizeOptions& options = {},
                  std::string_view hint = "resize");
  Value avg_pool(const Value& x, const PoolOptions& options, std::string_view hint = "avg_pool");
  Value max_pool(const Value& x, const PoolOptions& options, std::string_view hint = "max_pool");
  Value global_avg_pool(const Value& x, std::string_view hint = "global_avg_pool");

  // ---- reductions ---------------------------------------------------------------------
  Value reduce_mean(const Value& x, const std::vector<std::int64_t>& axes, bool keepdims = true,
                    std::string_view hint = "reduce_mean");
  Value reduce_sum(const Value& x, const std::vector<std::int64_t>& axes, bool keepdims = true,
                   std::string_view hint = "reduce_sum");
  Value reduce_max(const Value& x, const std::vector<std::int64_t>& axes, bool keepdims = true,
                   std::string_view hint = "reduce_max");
  Value argmax(const Value& x, std::int64_t axis, bool keepdims = true, std::string_view hint = "argmax");
  // Any Reduce* op ("ReduceMin", "ReduceL2", ...) with axes as attribute or input per the opset;
  // empty axes: reduce over everything.
  Value reduce(const std::string& op_type, const Value& x, const std::vector<std::int64_t>& axes, bool keepdims = true,
               std::string_view hint = {});

  // ---- anything else ------------------------------------------------------------------
  // Generic node: an invalid Value in `inputs` marks an omitted optional input.
  std::vector<Value> op(const std::string& op_type, const std::vector<Value>& inputs,
                        std::vector<Attribute> attributes = {}, int num_outputs = 1, std::string_view hint = {});
  Value op1(const std::string& op_type, const std::vector<Value>& inputs, std::vector<Attribute> attributes = {},
            std::string_view hint = {});

  // ---- result -------------------------------------------------------------------------
  const Graph& graph() const;
  int opset() const;
  // Validates (graph::validate) and hands the graph over; the builder is empty afterwards.
  Graph finish() &&;

 private:
  std::vector<std::int64_t> kernel_shape_or_weights(const std::vector<std::int64_t>& explicit_shape,
                                                    const Value& w) const;

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace medport::graph
