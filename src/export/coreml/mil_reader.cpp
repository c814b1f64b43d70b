// An ML Program's main block -> graph::Graph. An independent reading of what the writer (or
// Apple's converter) produced: every op is read from its MIL definition and its declared output
// types, never from what the writer meant. float16 values are computed in float32 and rounded to
// float16 after every op that produces one (float16 storage between ops, as on device).
#include <functional>
#include <set>

#include "export/coreml/mil_builder.hpp"
#include "export/coreml/reader.hpp"
#include "medport/error.hpp"
#include "medport/graph/builder.hpp"

namespace medport::coreml {

namespace {

using graph::Attribute;
using graph::Value;

struct VarType {
  MilDType dtype = mil::FLOAT32;
  std::vector<std::int64_t> shape;  // -1 unknown
};

struct Const {
  Tensor tensor;                     // numbers (float16 kept as float16)
  std::vector<std::string> strings;  // string consts
  MilDType dtype = mil::FLOAT32;
};

VarType var_type(const mil::ValueType& t) {
  VarType v;
  v.dtype = t.tensortype().datatype();
  for (const auto& d : t.tensortype().dimensions())
    v.shape.push_back(d.has_constant() ? static_cast<std::int64_t>(d.constant().size()) : -1);
  return v;
}

class Reader {
 public:
  Reader(const SpecFile& file, const mil::Block& block) : file_(file), block_(block), b_("coreml") {}

  graph::Graph read(const google::protobuf::RepeatedPtrField<mil::NamedValueType>& inputs) {
    for (const auto& in : inputs) {
      const VarType t = var_type(in.type());
      graph::Dims dims;
      for (std::size_t i = 0; i < t.shape.size(); ++i)
        dims.push_back(t.shape[i] >= 0 ? graph::Dim(t.shape[i]) : graph::Dim(in.name() + "_d" + std::to_string(i)));
      types_[in.name()] = t;
      if (t.dtype == mil::FLOAT16) {
        values_[in.name()] = b_.cast(b_.input(in.name(), DType::F16, dims), DType::F32, in.name() + "_fp32");
      } else if (t.dtype == mil::FLOAT32) {
        values_[in.name()] = b_.input(in.name(), DType::F32, dims);
      } else if (t.dtype == mil::INT32) {
        values_[in.name()] = b_.input(in.name(), DType::I32, dims);
      } else {
        fail("input '" + in.name() + "' has an unsupported type");
      }
    }
    for (const auto& op : block_.operations()) {
      op_ = &op;
      if (op.outputs_size() == 0) fail("op '" + op.type() + "' has no outputs");
      std::set<std::string> outputs;
      for (const auto& o : op.outputs())
        if (types_.count(o.name()) || !outputs.insert(o.name()).second) fail("output '" + o.name() + "' is defined twice");
      if (op.type() == "const") {
        read_const(op);
        continue;
      }
      auto it = handlers().find(op.type());
      if (it == handlers().end()) fail("op '" + op.type() + "' is not supported by medport's reader");
      for (const auto& o : op.outputs()) types_[o.name()] = var_type(o.type());
      it->second(*this, op);
      for (const auto& o : op.outputs())
        if (!values_.count(o.name())) fail("output '" + o.name() + "' is declared but not computed by the op");
    }
    for (const auto& name : block_.outputs()) {
      Value v = tensor(name);
      if (types_.at(name).dtype == mil::FLOAT16) v = b_.cast(v, DType::F16, name + "_fp16");
      b_.output(v, name);
    }
    return std::move(b_).finish();
  }

 private:
  using Handler = std::function<void(Reader&, const mil::Operation&)>;
  static const std::map<std::string, Handler>& handlers();

  [[noreturn]] void fail(const std::string& what) const {
    std::string where = op_ && op_->outputs_size() ? " (op '" + op_->type() + "' -> '" + op_->outputs(0).name() + "')" : "";
    throw InputError(file_.spec_path.string(), what + where);
  }

  // ---- consts --------------------------------------------------------------------------------
  void read_const(const mil::Operation& op) {
    auto it = op.attributes().find("val");
    if (it == op.attributes().end() || op.outputs_size() != 1) fail("const without a value");
    const VarType t = var_type(it->second.type());
    Const c;
    c.dtype = t.dtype;
    for (auto d : t.shape)
      if (d < 0) fail("const of unknown shape");
    const Shape shape(t.shape.begin(), t.shape.end());
    const std::int64_t n = declared_numel(file_.spec_path.string(), shape, "const '" + op.outputs(0).name() + "'");
    const auto& v = it->second;
    if (v.has_blobfilevalue()) {
      if (!file_.weights) fail("a weight blob is referenced but the package has no weight.bin");
      c.tensor = file_.weights->tensor(v.blobfilevalue().offset(), shape);
      if ((t.dtype == mil::FLOAT16) != (c.tensor.dtype() == DType::F16))
        fail("blob dtype differs from the declared type of '" + op.outputs(0).name() + "'");
    } else if (v.has_immediatevalue() && v.immediatevalue().has_tensor()) {
      const auto& tv = v.immediatevalue().tensor();
      auto check = [&](std::int64_t got) {
        if (got != n) fail("const '" + op.outputs(0).name() + "' holds " + std::to_string(got) + " values for shape " + shape_string(shape));
      };
      if (tv.has_floats()) {
        check(tv.floats().values_size());
        c.tensor = Tensor::from_f32(shape, std::span(tv.floats().values().data(), static_cast<std::size_t>(n)));
      } else if (tv.has_ints()) {
        check(tv.ints().values_size());
        c.tensor = Tensor::from_bytes(DType::I32, shape, std::as_bytes(std::span(tv.ints().values().data(), static_cast<std::size_t>(n))));
      } else if (tv.has_bools()) {
        check(tv.bools().values_size());
        std::vector<std::uint8_t> bools(tv.bools().values().begin(), tv.bools().values().end());
        c.tensor = Tensor::from_bytes(DType::Bool, shape, std::as_bytes(std::span(bools)));
      } else if (tv.has_bytes() && t.dtype == mil::FLOAT16) {
        check(static_cast<std::int64_t>(tv.bytes().values().size() / 2));
        c.tensor = Tensor::from_bytes(DType::F16, shape, std::as_bytes(std::span(tv.bytes().values().data(), tv.bytes().values().size())));
      } else if (tv.has_strings()) {
        c.strings.assign(tv.strings().values().begin(), tv.strings().values().end());
      } else if (tv.has_longints()) {
        check(tv.longints().values_size());
        c.tensor = Tensor::from_bytes(DType::I64, shape, std::as_bytes(std::span(tv.longints().values().data(), static_cast<std::size_t>(n)))).to(DType::I32);
      } else {
        fail("const '" + op.outputs(0).name() + "' of an unsupported kind");
      }
    } else {
      fail("const '" + op.outputs(0).name() + "' without a tensor value");
    }
    types_[op.outputs(0).name()] = t;
    consts_[op.outputs(0).name()] = std::move(c);
  }

  // ---- arguments -----------------------------------------------------------------------------
  const std::string* arg_name(const mil::Operation& op, const std::string& param, bool required = true) const {
    auto it = op.inputs().find(param);
    if (it == op.inputs().end() || it->second.arguments_size() == 0) {
      if (required) fail("missing input '" + param + "'");
      return nullptr;
    }
    const auto& binding = it->second.arguments(0);
    if (!binding.has_name()) fail("input '" + param + "' bound to an inline value (not supported)");
    return &binding.name();
  }
  bool has(const mil::Operation& op, const std::string& param) const { return arg_name(op, param, false) != nullptr; }
  std::vector<std::string> arg_names(const mil::Operation& op, const std::string& param) const {
    std::vector<std::string> names;
    auto it = op.inputs().find(param);
    if (it == op.inputs().end()) fail("missing input '" + param + "'");
    for (const auto& binding : it->second.arguments()) names.push_back(binding.name());
    return names;
  }
  const Const* const_of(const std::string& name) const {
    auto it = consts_.find(name);
    return it == consts_.end() ? nullptr : &it->second;
  }
  const Const& param(const mil::Operation& op, const std::string& p) const {
    const Const* c = const_of(*arg_name(op, p));
    if (!c) fail("input '" + p + "' must be a const");
    return *c;
  }
  std::vector<std::int64_t> ints(const mil::Operation& op, const std::string& p) const {
    const Tensor t = param(op, p).tensor.to(DType::I64);
    return {t.data<std::int64_t>(), t.data<std::int64_t>() + t.numel()};
  }
  std::vector<std::int64_t> ints_or(const mil::Operation& op, const std::string& p, std::vector<std::int64_t> fallback) const {
    return has(op, p) ? ints(op, p) : fallback;
  }
  // The one value of a scalar parameter (a const holding none is refused).
  float scalar(const mil::Operation& op, const std::string& p) const {
    const auto v = param(op, p).tensor.to_f32();
    if (v.empty()) fail("input '" + p + "' holds no value");
    return v.front();
  }
  float scalar_f(const mil::Operation& op, const std::string& p, float fallback) const {
    return has(op, p) ? scalar(op, p) : fallback;
  }
  std::int64_t scalar_i(const mil::Operation& op, const std::string& p, std::int64_t fallback) const {
    if (!has(op, p)) return fallback;
    const auto v = ints(op, p);
    if (v.empty()) fail("input '" + p + "' holds no value");
    return v.front();
  }
  bool scalar_b(const mil::Operation& op, const std::string& p, bool fallback) const {
    return has(op, p) ? scalar(op, p) != 0.0f : fallback;
  }
  // Ranks and lengths the op needs (what would otherwise index past a vector).
  void require_rank(const std::vector<std::int64_t>& shape, std::size_t at_least, const std::string& what) const {
    if (const auto fault = rank_fault(shape, at_least, what); !fault.empty()) fail(fault);
  }
  void require_length(const std::vector<std::int64_t>& values, std::size_t n, const std::string& what) const {
    if (const auto fault = length_fault(values.size(), n, what); !fault.empty()) fail(fault);
  }
  std::string text(const mil::Operation& op, const std::string& p, const std::string& fallback) const {
    if (!has(op, p)) return fallback;
    const auto& c = param(op, p);
    if (c.strings.size() != 1) fail("input '" + p + "' must be a string");
    return c.strings[0];
  }

  // The graph value of a MIL var (consts become initializers; float16 consts are upcast exactly).
  Value tensor(const std::string& name) {
    if (auto it = values_.find(name); it != values_.end()) return it->second;
    const Const* c = const_of(name);
    if (!c) fail("'" + name + "' is used before it is defined");
    if (!c->strings.empty()) fail("string const '" + name + "' used as a tensor");
    const Tensor t = c->tensor.dtype() == DType::F16 ? c->tensor.to(DType::F32) : c->tensor;
    Value v = b_.initializer(name, t);
    values_[name] = v;
    return v;
  }
  Value x(const mil::Operation& op, const std::string& p = "x") { return tensor(*arg_name(op, p)); }
  Value i64(const Value& v) { return v.dtype() == DType::I64 ? v : b_.cast(v, DType::I64); }
  const VarType& type_of(const std::string& name) const {
    auto it = types_.find(name);
    if (it == types_.end()) fail("'" + name + "' is used before it is defined");
    return it->second;
  }
  std::vector<std::int64_t> in_shape(const mil::Operation& op, const std::string& p = "x") const {
    return type_of(*arg_name(op, p)).shape;
  }

  // Registers output i; float16 outputs are rounded to float16.
  void set(const mil::Operation& op, Value v, int i = 0) {
    const auto& out = op.outputs(i);
    const VarType t = var_type(out.type());
    if (t.dtype == mil::FLOAT16) {
      v = b_.cast(b_.cast(v, DType::F16, out.name() + "_round"), DType::F32, out.name() + "_fp16");
    } else if (t.dtype == mil::INT32 && v.dtype() != DType::I32) {
      v = b_.cast(v, DType::I32, out.name() + "_int32");
    }
    values_[out.name()] = v;
  }
  Value node(const std::string& type, const std::vector<Value>& inputs, std::vector<Attribute> attrs = {}) {
    return b_.op1(type, inputs, std::move(attrs), mil_identifier(op_->outputs(0).name()));
  }
  void simple(const mil::Operation& op, const std::string& type, std::vector<Attribute> attrs = {}) {
    set(op, node(type, {x(op)}, std::move(attrs)));
  }

  std::vector<std::int64_t> onnx_pads(const mil::Operation& op, std::size_t spatial) const {
    const std::string type = text(op, "pad_type", "valid");
    std::vector<std::int64_t> pads(2 * spatial, 0);
    if (type == "custom") {
      const auto p = ints(op, "pad");
      if (p.size() != 2 * spatial) fail("pad has " + std::to_string(p.size()) + " values");
      for (std::size_t i = 0; i < spatial; ++i) {
        pads[i] = p[2 * i];
        pads[spatial + i] = p[2 * i + 1];
      }
    } else if (type != "valid") {
      fail("pad_type '" + type + "' is not supported by medport's reader");
    }
    return pads;
  }

  // ---- op groups -----------------------------------------------------------------------------
  void conv(const mil::Operation& op, bool transposed) {
    const auto xs = in_shape(op);
    require_rank(xs, 3, "input");
    const std::size_t spatial = xs.size() - 2;
    const Const& w = param(op, "weight");
    const Shape& ws = w.tensor.shape();
    if (ws.size() != xs.size())
      fail("weight of rank " + std::to_string(ws.size()) + " for an input of rank " + std::to_string(xs.size()));
    require_positive(file_.spec_path.string(), Shape(ws.begin() + 2, ws.end()), "kernel size");
    std::vector<Attribute> attrs{
        Attribute::make_ints("kernel_shape", Shape(ws.begin() + 2, ws.end())),
        Attribute::make_ints("strides", ints_or(op, "strides", std::vector<std::int64_t>(spatial, 1))),
        Attribute::make_ints("dilations", ints_or(op, "dilations", std::vector<std::int64_t>(spatial, 1))),
        Attribute::make_ints("pads", onnx_pads(op, spatial)),
        Attribute::make_int("group", scalar_i(op, "groups", 1))};
    require_length(attrs[1].ints, spatial, "strides");
    require_length(attrs[2].ints, spatial, "dilations");
    require_positive(file_.spec_path.string(), attrs[1].ints, "stride");
    require_positive(file_.spec_path.string(), attrs[2].ints, "dilation");
    require_positive(file_.spec_path.string(), {attrs[4].i}, "groups");
    if (transposed) {
      // output_padding makes the declared output size exact.
      const auto out = var_type(op.outputs(0).type()).shape;
      if (out.size() != xs.size()) fail("conv_transpose output of rank " + std::to_string(out.size()));
      const auto strides = attrs[1].ints, dil = attrs[2].ints, pads = attrs[3].ints;
      std::vector<std::int64_t> extra(spatial, 0);
      for (std::size_t i = 0; i < spatial; ++i) {
        if (out[2 + i] < 0 || xs[2 + i] < 0) continue;
        const std::int64_t natural = strides[i] * (xs[2 + i] - 1) + (ws[2 + i] - 1) * dil[i] + 1 - pads[i] - pads[spatial + i];
        extra[i] = out[2 + i] - natural;
        if (extra[i] < 0 || extra[i] >= std::max(strides[i], dil[i])) fail("conv_transpose output_shape cannot be reached");
      }
      attrs.push_back(Attribute::make_ints("output_padding", extra));
    }
    std::vector<Value> ins{x(op), tensor(*arg_name(op, "weight"))};
    if (has(op, "bias")) ins.push_back(x(op, "bias"));
    set(op, node(transposed ? "ConvTranspose" : "Conv", ins, attrs));
  }

  void pool(const mil::Operation& op, bool average) {
    const auto xs = in_shape(op);
    require_rank(xs, 3, "input");
    const std::size_t spatial = xs.size() - 2;
    std::vector<Attribute> attrs{Attribute::make_ints("kernel_shape", ints(op, "kernel_sizes")),
                                 Attribute::make_ints("strides", ints_or(op, "strides", std::vector<std::int64_t>(spatial, 1))),
                                 Attribute::make_ints("pads", onnx_pads(op, spatial)),
                                 Attribute::make_int("ceil_mode", scalar_b(op, "ceil_mode", false))};
    require_length(attrs[0].ints, spatial, "kernel_sizes");
    require_length(attrs[1].ints, spatial, "strides");
    require_positive(file_.spec_path.string(), attrs[0].ints, "kernel size");
    require_positive(file_.spec_path.string(), attrs[1].ints, "stride");
    if (average) attrs.push_back(Attribute::make_int("count_include_pad", !scalar_b(op, "exclude_padding_from_average", false)));
    set(op, node(average ? "AveragePool" : "MaxPool", {x(op)}, attrs));
  }

  void binary(const mil::Operation& op, const std::string& type) {
    Value a = x(op), c = x(op, "y");
    if (a.dtype() != c.dtype()) c = b_.cast(c, a.dtype());
    set(op, node(type, {a, c}));
  }

  void reduce(const mil::Operation& op, const std::string& type) {
    std::vector<std::int64_t> axes = has(op, "axes") ? ints(op, "axes") : std::vector<std::int64_t>{};
    if (axes.empty())
      for (std::size_t i = 0; i < in_shape(op).size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
    set(op, b_.reduce(type, x(op), axes, scalar_b(op, "keep_dims", false), mil_identifier(op.outputs(0).name())));
  }

  void resize_scales(const mil::Operation& op, const std::string& mode, const std::string& coord) {
    const auto xs = in_shape(op);
    require_rank(xs, 2, "input");
    const auto out = var_type(op.outputs(0).type()).shape;
    std::vector<float> scales(xs.size(), 1.0f);
    scales[xs.size() - 2] = scalar_f(op, "scale_factor_height", 1.0f);
    scales[xs.size() - 1] = scalar_f(op, "scale_factor_width", 1.0f);
    (void)out;
    graph::ResizeOptions o;
    o.mode = mode;
    o.coordinate_transformation_mode = coord;
    o.nearest_mode = "floor";
    set(op, b_.resize(x(op), scales, o, mil_identifier(op.outputs(0).name())));
  }

  const SpecFile& file_;
  const mil::Block& block_;
  graph::Builder b_;
  const mil::Operation* op_ = nullptr;
  std::map<std::string, Const> consts_;
  std::map<std::string, Value> values_;
  std::map<std::string, VarType> types_;
};

const std::map<std::string, Reader::Handler>& Reader::handlers() {
  static const std::map<std::string, Handler> table = [] {
    std::map<std::string, Handler> t;
    t["conv"] = [](Reader& r, const mil::Operation& op) { r.conv(op, false); };
    t["conv_transpose"] = [](Reader& r, const mil::Operation& op) { r.conv(op, true); };
    t["avg_pool"] = [](Reader& r, const mil::Operation& op) { r.pool(op, true); };
    t["max_pool"] = [](Reader& r, const mil::Operation& op) { r.pool(op, false); };
    t["instance_norm"] = [](Reader& r, const mil::Operation& op) {
      r.set(op, r.node("InstanceNormalization", {r.x(op), r.x(op, "gamma"), r.x(op, "beta")},
                       {Attribute::make_float("epsilon", r.scalar_f(op, "epsilon", 1e-5f))}));
    };
    t["batch_norm"] = [](Reader& r, const mil::Operation& op) {
      r.set(op, r.node("BatchNormalization", {r.x(op), r.x(op, "gamma"), r.x(op, "beta"), r.x(op, "mean"), r.x(op, "variance")},
                       {Attribute::make_float("epsilon", r.scalar_f(op, "epsilon", 1e-5f))}));
    };
    t["layer_norm"] = [](Reader& r, const mil::Operation& op) {
      const auto rank = static_cast<std::int64_t>(r.in_shape(op).size());
      auto axes = r.ints(op, "axes");
      if (axes.empty()) r.fail("layer_norm over no axes");
      for (auto& a : axes) a = a < 0 ? a + rank : a;
      std::sort(axes.begin(), axes.end());
      for (std::size_t i = 0; i < axes.size(); ++i)
        if (axes[i] != rank - static_cast<std::int64_t>(axes.size()) + static_cast<std::int64_t>(i))
          r.fail("layer_norm over axes that do not end the shape");
      std::vector<Value> ins{r.x(op), r.x(op, "gamma")};
      if (r.has(op, "beta")) ins.push_back(r.x(op, "beta"));
      r.set(op, r.node("LayerNormalization", ins, {Attribute::make_int("axis", axes.front()),
                                                   Attribute::make_float("epsilon", r.scalar_f(op, "epsilon", 1e-5f))}));
    };
    for (const auto& [mil_op, onnx_op] : std::map<std::string, std::string>{
             {"relu", "Relu"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}, {"erf", "Erf"}, {"exp", "Exp"},
             {"sqrt", "Sqrt"}, {"abs", "Abs"}, {"cos", "Cos"}, {"sin", "Sin"}, {"floor", "Floor"},
             {"ceil", "Ceil"}, {"round", "Round"}, {"sign", "Sign"}, {"logical_not", "Not"},
             {"softplus", "Softplus"}, {"softsign", "Softsign"}, {"identity", "Identity"}})
      t[mil_op] = [onnx_op](Reader& r, const mil::Operation& op) { r.simple(op, onnx_op); };
    for (const auto& [mil_op, onnx_op] : std::map<std::string, std::string>{
             {"add", "Add"}, {"sub", "Sub"}, {"mul", "Mul"}, {"real_div", "Div"}, {"pow", "Pow"},
             {"maximum", "Max"}, {"minimum", "Min"}, {"equal", "Equal"}, {"not_equal", "NotEqual"},
             {"less", "Less"}, {"greater", "Greater"}, {"less_equal", "LessOrEqual"},
             {"greater_equal", "GreaterOrEqual"}, {"logical_and", "And"}, {"logical_or", "Or"},
             {"logical_xor", "Xor"}, {"floor_div", "Div"}, {"mod", "Mod"}})
      t[mil_op] = [onnx_op](Reader& r, const mil::Operation& op) {
        if (onnx_op == "NotEqual") {
          r.set(op, r.b_.op1("Not", {r.node("Equal", {r.x(op), r.x(op, "y")})}));
        } else {
          r.binary(op, onnx_op);
        }
      };
    t["rsqrt"] = [](Reader& r, const mil::Operation& op) {
      r.set(op, r.b_.reciprocal(r.b_.sqrt(r.b_.add(r.x(op), r.scalar_f(op, "epsilon", 1e-12f)))));
    };
    t["inverse"] = [](Reader& r, const mil::Operation& op) {
      r.set(op, r.b_.reciprocal(r.b_.add(r.x(op), r.scalar_f(op, "epsilon", 1e-4f))));
    };
    t["log"] = [](Reader& r, const mil::Operation& op) {
      r.set(op, r.b_.log(r.b_.add(r.x(op), r.scalar_f(op, "epsilon", 1e-45f))));
    };
    t["leaky_relu"] = [](Reader& r, const mil::Operation& op) {
      r.simple(op, "LeakyRelu", {Attribute::make_float("alpha", r.scalar_f(op, "alpha", 0.01f))});
    };
    t["elu"] = [](Reader& r, const mil::Operation& op) {
      r.simple(op, "Elu", {Attribute::make_float("alpha", r.scalar_f(op, "alpha", 1.0f))});
    };
    t["thresholded_relu"] = [](Reader& r, const mil::Operation& op) {
      r.simple(op, "ThresholdedRelu", {Attribute::make_float("alpha", r.scalar_f(op, "alpha", 1.0f))});
    };
    t["sigmoid_hard"] = [](Reader& r, const mil::Operation& op) {
      r.simple(op, "HardSigmoid", {Attribute::make_float("alpha", r.scalar_f(op, "alpha", 0.2f)),
                                   Attribute::make_float("beta", r.scalar_f(op, "beta", 0.5f))});
    };
    t["silu"] = [](Reader& r, const mil::Operation& op) { r.set(op, r.b_.silu(r.x(op))); };
    t["gelu"] = [](Reader& r, const mil::Operation& op) {
      const std::string mode = r.text(op, "mode", "EXACT");
      if (mode != "EXACT") r.fail("gelu mode " + mode + " is not supported by medport's reader");
      r.set(op, r.b_.gelu(r.x(op)));
    };
    t["clip"] = [](Reader& r, const mil::Operation& op) {
      r.set(op, r.b_.clip(r.x(op), r.scalar_f(op, "alpha", 0.0f), r.scalar_f(op, "beta", 0.0f)));
    };
    t["softmax"] = [](Reader& r, const mil::Operation& op) {
      r.simple(op, "Softmax", {Attribute::make_int("axis", r.scalar_i(op, "axis", -1))});
    };
    t["select"] = [](Reader& r, const mil::Operation& op) {
      Value c = r.x(op, "cond");
      if (c.dtype() != DType::Bool) c = r.b_.cast(c, DType::Bool);
      r.set(op, r.node("Where", {c, r.x(op, "a"), r.x(op, "b")}));
    };
    t["cast"] = [](Reader& r, const mil::Operation& op) {
      const std::string to = r.text(op, "dtype", "fp32");
      const DType d = to == "int32" ? DType::I32 : to == "bool" ? DType::Bool : DType::F32;  // fp16: rounded by set()
      r.set(op, r.b_.cast(r.x(op), d, mil_identifier(op.outputs(0).name())));
    };
    t["matmul"] = [](Reader& r, const mil::Operation& op) {
      auto prep = [&](const std::string& p, const std::string& flag) {
        Value v = r.x(op, p);
        if (!r.scalar_b(op, flag, false)) return v;
        r.require_rank(r.in_shape(op, p), 2, "transposed matmul input '" + p + "'");
        const auto rank = static_cast<std::int64_t>(r.in_shape(op, p).size());
        std::vector<std::int64_t> perm;
        for (std::int64_t i = 0; i < rank; ++i) perm.push_back(i);
        std::swap(perm[static_cast<std::size_t>(rank - 1)], perm[static_cast<std::size_t>(rank - 2)]);
        return r.b_.transpose(v, perm);
      };
      r.set(op, r.node("MatMul", {prep("x", "transpose_x"), prep("y", "transpose_y")}));
    };
    t["linear"] = [](Reader& r, const mil::Operation& op) {
      std::optional<Value> bias;
      if (r.has(op, "bias")) bias = r.x(op, "bias");
      r.set(op, r.b_.linear(r.x(op), r.x(op, "weight"), bias));
    };
    t["transpose"] = [](Reader& r, const mil::Operation& op) { r.set(op, r.b_.transpose(r.x(op), r.ints(op, "perm"))); };
    t["reshape"] = [](Reader& r, const mil::Operation& op) {
      const std::string& s = *r.arg_name(op, "shape");
      if (r.const_of(s)) {
        r.set(op, r.b_.reshape(r.x(op), r.ints(op, "shape")));
      } else {
        r.set(op, r.b_.reshape(r.x(op), r.i64(r.tensor(s))));
      }
    };
    t["concat"] = [](Reader& r, const mil::Operation& op) {
      if (r.scalar_b(op, "interleave", false)) r.fail("interleaved concat is not supported by medport's reader");
      std::vector<Value> values;
      for (const auto& n : r.arg_names(op, "values")) values.push_back(r.tensor(n));
      r.set(op, r.b_.concat(values, r.scalar_i(op, "axis", 0)));
    };
    t["split"] = [](Reader& r, const mil::Operation& op) {
      const auto xs = r.in_shape(op);
      std::int64_t axis = r.scalar_i(op, "axis", 0);
      if (axis < 0) axis += static_cast<std::int64_t>(xs.size());
      if (axis < 0 || axis >= static_cast<std::int64_t>(xs.size())) r.fail("split axis outside the input's rank");
      std::vector<std::int64_t> sizes;
      if (r.has(op, "split_sizes")) {
        sizes = r.ints(op, "split_sizes");
      } else {
        for (const auto& o : op.outputs()) {
          const auto os = var_type(o.type()).shape;
          if (os.size() != xs.size()) r.fail("split output '" + o.name() + "' of another rank than its input");
          sizes.push_back(os[static_cast<std::size_t>(axis)]);
        }
      }
      if (sizes.size() != static_cast<std::size_t>(op.outputs_size()))
        r.fail("split into " + std::to_string(sizes.size()) + " parts declares " + std::to_string(op.outputs_size()) + " outputs");
      const auto parts = r.b_.split(r.x(op), axis, sizes);
      for (int i = 0; i < op.outputs_size(); ++i) r.set(op, parts.at(static_cast<std::size_t>(i)), i);
    };
    t["slice_by_index"] = [](Reader& r, const mil::Operation& op) {
      const auto xs = r.in_shape(op);
      const auto rank = xs.size();
      const auto begin = r.ints(op, "begin"), end = r.ints(op, "end");
      const auto stride = r.ints_or(op, "stride", std::vector<std::int64_t>(rank, 1));
      r.require_length(begin, rank, "begin");
      r.require_length(end, rank, "end");
      r.require_length(stride, rank, "stride");
      for (const auto s : stride)
        if (s == 0) r.fail("slice stride 0");
      auto mask = [&](const std::string& p) {
        std::vector<bool> m(rank, false);
        if (r.has(op, p)) {
          const auto v = r.param(op, p).tensor.to_f32();
          for (std::size_t i = 0; i < rank && i < v.size(); ++i) m[i] = v[i] != 0.0f;
        }
        return m;
      };
      const auto bm = mask("begin_mask"), em = mask("end_mask"), sm = mask("squeeze_mask");
      std::vector<std::int64_t> starts, ends, axes, steps, squeeze;
      for (std::size_t a = 0; a < rank; ++a) {
        const std::int64_t step = stride[a];
        const std::int64_t lo = step > 0 ? 0 : -1;
        const std::int64_t s = bm[a] ? (step > 0 ? 0 : std::numeric_limits<std::int64_t>::max()) : begin[a];
        std::int64_t e = em[a] ? (step > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min())
                               : end[a];
        if (sm[a]) {
          e = s + 1 == 0 ? std::numeric_limits<std::int64_t>::max() : s + 1;
          squeeze.push_back(static_cast<std::int64_t>(a));
        }
        (void)lo;
        starts.push_back(s);
        ends.push_back(e);
        axes.push_back(static_cast<std::int64_t>(a));
        steps.push_back(step);
      }
      Value v = r.b_.slice(r.x(op), starts, ends, axes, steps);
      if (!squeeze.empty()) v = r.b_.squeeze(v, squeeze);
      r.set(op, v);
    };
    t["squeeze"] = [](Reader& r, const mil::Operation& op) {
      std::vector<std::int64_t> axes;
      if (r.has(op, "axes")) {
        axes = r.ints(op, "axes");
      } else {
        const auto xs = r.in_shape(op);
        for (std::size_t i = 0; i < xs.size(); ++i)
          if (xs[i] == 1) axes.push_back(static_cast<std::int64_t>(i));
      }
      r.set(op, r.b_.squeeze(r.x(op), axes));
    };
    t["expand_dims"] = [](Reader& r, const mil::Operation& op) { r.set(op, r.b_.unsqueeze(r.x(op), r.ints(op, "axes"))); };
    t["gather"] = [](Reader& r, const mil::Operation& op) {
      r.set(op, r.b_.gather(r.x(op), r.x(op, "indices"), r.scalar_i(op, "axis", 0)));
    };
    t["tile"] = [](Reader& r, const mil::Operation& op) {
      const std::string& reps = *r.arg_name(op, "reps");
      Value rv = r.const_of(reps) ? r.b_.const_i64(r.ints(op, "reps")) : r.i64(r.tensor(reps));
      r.set(op, r.b_.tile(r.x(op), rv));
    };
    t["shape"] = [](Reader& r, const mil::Operation& op) { r.set(op, r.b_.shape(r.x(op))); };
    t["pad"] = [](Reader& r, const mil::Operation& op) {
      const auto p = r.ints(op, "pad");
      const auto rank = r.in_shape(op).size();
      if (p.size() % 2 != 0 || p.size() / 2 > rank)
        r.fail("pad has " + std::to_string(p.size()) + " values for an input of rank " + std::to_string(rank));
      std::vector<std::int64_t> pads(2 * rank, 0);
      const std::size_t first = rank - p.size() / 2;  // MIL pads the last len(pad)/2 axes
      for (std::size_t i = 0; i < p.size() / 2; ++i) {
        pads[first + i] = p[2 * i];
        pads[rank + first + i] = p[2 * i + 1];
      }
      const std::string mode = r.text(op, "mode", "constant");
      r.set(op, r.b_.pad(r.x(op), pads, mode == "replicate" ? "edge" : mode, r.scalar_f(op, "constant_val", 0.0f)));
    };
    t["upsample_nearest_neighbor"] = [](Reader& r, const mil::Operation& op) { r.resize_scales(op, "nearest", "asymmetric"); };
    t["upsample_bilinear"] = [](Reader& r, const mil::Operation& op) {
      const bool align = r.scalar_b(op, "align_corners", false);
      const bool half = r.scalar_b(op, "half_pixel_centers", !align);
      r.resize_scales(op, "linear", align ? "align_corners" : half ? "half_pixel" : "asymmetric");
    };
    for (const auto& [mil_op, onnx_op] : std::map<std::string, std::string>{
             {"reduce_mean", "ReduceMean"}, {"reduce_sum", "ReduceSum"}, {"reduce_max", "ReduceMax"},
             {"reduce_min", "ReduceMin"}, {"reduce_prod", "ReduceProd"}, {"reduce_l2_norm", "ReduceL2"},
             {"reduce_l1_norm", "ReduceL1"}, {"reduce_sum_square", "ReduceSumSquare"},
             {"reduce_log_sum_exp", "ReduceLogSumExp"}, {"reduce_log_sum", "ReduceLogSum"}})
      t[mil_op] = [onnx_op](Reader& r, const mil::Operation& op) { r.reduce(op, onnx_op); };
    for (const auto& [mil_op, onnx_op] : std::map<std::string, std::string>{{"reduce_argmax", "ArgMax"}, {"reduce_argmin", "ArgMin"}})
      t[mil_op] = [onnx_op](Reader& r, const mil::Operation& op) {
        r.simple(op, onnx_op, {Attribute::make_int("axis", r.scalar_i(op, "axis", -1)),
                               Attribute::make_int("keepdims", r.scalar_b(op, "keep_dims", false))});
      };
    return t;
  }();
  return table;
}

}  // namespace

graph::Graph read_ml_program(const SpecFile& file) {
  std::string opset;
  const mil::Block& block = main_block(file, &opset);
  const auto& fn = file.model.mlprogram().functions().at("main");
  Reader reader(file, block);
  graph::Graph g = reader.read(fn.inputs());
  g.name = file.path.stem().string();
  return g;
}

}  // namespace medport::coreml
