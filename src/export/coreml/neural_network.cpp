// NeuralNetwork backend: the graph is first translated to a float32 MIL block (the same
// translation, folding and decompositions as ML Programs), then each MIL op becomes N-D array
// layers, the way Apple's converter lowers MIL to NeuralNetwork.
#include "export/coreml/neural_network.hpp"

#include <functional>
#include <set>

#include "export/coreml/mil_builder.hpp"
#include "export/coreml/ml_program.hpp"
#include "export/coreml/model_spec.hpp"
#include "medport/error.hpp"

namespace medport::coreml {

namespace {

using Layer = spec::NeuralNetworkLayer;

struct ConstValue {
  Tensor tensor;
  std::vector<std::string> strings;
};

std::vector<std::int64_t> var_shape(const mil::ValueType& t) {
  std::vector<std::int64_t> s;
  for (const auto& d : t.tensortype().dimensions()) s.push_back(d.has_constant() ? static_cast<std::int64_t>(d.constant().size()) : -1);
  return s;
}

class Lowering {
 public:
  Lowering(spec::NeuralNetwork* nn, const mil::Function& fn, const mil::Block& block, const BlobPlan& blobs,
           const WriteOptions& options, std::string source)
      : nn_(nn), block_(block), options_(options), source_(std::move(source)) {
    for (const auto& in : fn.inputs()) shapes_[in.name()] = var_shape(in.type());
    std::map<std::uint64_t, const BlobPlan::Entry*> by_offset;
    for (const auto& e : blobs.entries()) by_offset[e.metadata_offset] = &e;
    for (const auto& op : block.operations()) {
      for (const auto& o : op.outputs()) shapes_[o.name()] = var_shape(o.type());
      if (op.type() != "const") continue;
      const auto& v = op.attributes().at("val");
      ConstValue c;
      const auto shape = var_shape(v.type());
      if (v.has_blobfilevalue()) {
        // Kept as the checkpoint's view (any float dtype): converted only when its layer is written.
        const Tensor& weight = by_offset.at(v.blobfilevalue().offset())->source;
        c.tensor = weight.contiguous().reshaped(Shape(shape.begin(), shape.end()));
      } else {
        const auto& t = v.immediatevalue().tensor();
        if (t.has_floats()) {
          c.tensor = Tensor::from_f32(Shape(shape.begin(), shape.end()),
                                      std::span(t.floats().values().data(), static_cast<std::size_t>(t.floats().values_size())));
        } else if (t.has_ints()) {
          std::vector<float> f(t.ints().values().begin(), t.ints().values().end());
          c.tensor = Tensor::from_f32(Shape(shape.begin(), shape.end()), f);
        } else if (t.has_bools()) {
          std::vector<float> f(t.bools().values().begin(), t.bools().values().end());
          c.tensor = Tensor::from_f32(Shape(shape.begin(), shape.end()), f);
        } else if (t.has_strings()) {
          c.strings.assign(t.strings().values().begin(), t.strings().values().end());
        }
      }
      consts_[op.outputs(0).name()] = std::move(c);
    }
  }

  NeuralNetworkBuild run() {
    for (const auto& op : block_.operations()) {
      if (op.type() == "const") continue;
      op_ = &op;
      auto it = handlers().find(op.type());
      if (it == handlers().end()) unsupported("the MIL op " + op.type());
      it->second(*this, op);
    }
    // Block outputs that are aliases (a cast that changed nothing) get a copy under their name.
    for (const auto& name : block_.outputs()) {
      const std::string produced = resolve(name);
      if (produced != name) {
        auto* l = layer("activation", name, {produced}, {name}, 1);
        l->mutable_activation()->mutable_linear()->set_alpha(1.0f);
      }
    }
    return build_;
  }

  int required_spec() const { return required_spec_; }
  const std::string& required_layer() const { return required_layer_; }

 private:
  using Handler = std::function<void(Lowering&, const mil::Operation&)>;
  static const std::map<std::string, Handler>& handlers();

  [[noreturn]] void unsupported(const std::string& what) const {
    throw InputError(source_, what + " has no NeuralNetwork layer in medport (use --backend mlprogram)" +
                                  (op_ ? " (at '" + op_->outputs(0).name() + "')" : std::string()));
  }

  std::string resolve(const std::string& name) const {
    auto it = aliases_.find(name);
    return it == aliases_.end() ? name : resolve(it->second);
  }
  const std::string& arg(const mil::Operation& op, const std::string& p) const {
    auto it = op.inputs().find(p);
    if (it == op.inputs().end() || it->second.arguments_size() == 0) unsupported("an op without '" + p + "'");
    return it->second.arguments(0).name();
  }
  bool has(const mil::Operation& op, const std::string& p) const { return op.inputs().count(p) > 0; }
  const ConstValue* const_of(const std::string& name) const {
    auto it = consts_.find(name);
    return it == consts_.end() ? nullptr : &it->second;
  }
  const Tensor& ctensor(const mil::Operation& op, const std::string& p) const {
    const ConstValue* c = const_of(arg(op, p));
    if (!c || !c->tensor.defined()) unsupported("'" + p + "' computed at run time");
    return c->tensor;
  }
  std::vector<std::int64_t> ints(const mil::Operation& op, const std::string& p) const {
    std::vector<std::int64_t> out;
    for (float f : ctensor(op, p).to_f32()) out.push_back(static_cast<std::int64_t>(f));
    return out;
  }
  float scalar(const mil::Operation& op, const std::string& p, float fallback) const {
    return has(op, p) ? ctensor(op, p).to_f32().at(0) : fallback;
  }
  std::string text(const mil::Operation& op, const std::string& p, const std::string& fallback) const {
    if (!has(op, p)) return fallback;
    const ConstValue* c = const_of(arg(op, p));
    return c && !c->strings.empty() ? c->strings[0] : fallback;
  }
  const std::vector<std::int64_t>& shape(const std::string& name) const { return shapes_.at(name); }
  const std::string& out(const mil::Operation& op, int i = 0) const { return op.outputs(i).name(); }

  // A data input: a const becomes a loadConstantND layer (once).
  std::string data(const std::string& name) {
    const ConstValue* c = const_of(name);
    if (!c) return resolve(name);
    if (!loaded_.insert(name).second) return name;
    if (!c->tensor.defined()) unsupported("a string used as data");
    auto* l = layer("loadConstantND", name, {}, {name}, 4);
    Shape s = c->tensor.shape();
    if (s.empty()) s = {1};
    for (auto d : s) l->mutable_loadconstantnd()->add_shape(static_cast<std::uint64_t>(d));
    weights(l->mutable_loadconstantnd()->mutable_data(), c->tensor);
    return name;
  }
  std::string x(const mil::Operation& op, const std::string& p = "x") { return data(arg(op, p)); }

  Layer* layer(const std::string& kind, const std::string& name, const std::vector<std::string>& inputs,
               const std::vector<std::string>& outputs, int min_spec) {
    auto* l = nn_->add_layers();
    l->set_name(name);
    for (const auto& i : inputs) l->add_input(i);
    for (const auto& o : outputs) l->add_output(o);
    ++build_.layer_counts[kind];
    if (min_spec > required_spec_) {
      required_spec_ = min_spec;
      required_layer_ = kind;
    }
    return l;
  }
  Layer* layer1(const std::string& kind, const mil::Operation& op, const std::vector<std::string>& inputs, int min_spec) {
    return layer(kind, out(op), inputs, {out(op)}, min_spec);
  }
  // `w` belongs to the layer added last; its values are converted while that layer is written.
  void weights(spec::WeightParams* w, const Tensor& t) {
    build_.weights.push_back({nn_->layers_size() - 1, w, t, options_.fp16});
    build_.weight_bytes += payload_bytes(build_.weights.back());
  }
  spec::ActivationParams* activation(const mil::Operation& op) {
    return layer1("activation", op, {x(op)}, 1)->mutable_activation();
  }
  void unary(const mil::Operation& op, spec::UnaryFunctionLayerParams::Operation type, float epsilon = 0.0f) {
    auto* u = layer1("unary", op, {x(op)}, 1)->mutable_unary();
    u->set_type(type);
    u->set_scale(1.0f);
    u->set_epsilon(epsilon);
    u->set_alpha(1.0f);
  }
  void elementwise(const mil::Operation& op, const std::string& kind) {
    auto* l = layer1(kind, op, {x(op), x(op, "y")}, 4);
    if (kind == "addBroadcastable") l->mutable_addbroadcastable();
    if (kind == "subtractBroadcastable") l->mutable_subtractbroadcastable();
    if (kind == "multiplyBroadcastable") l->mutable_multiplybroadcastable();
    if (kind == "divideBroadcastable") l->mutable_dividebroadcastable();
    if (kind == "powBroadcastable") l->mutable_powbroadcastable();
    if (kind == "maxBroadcastable") l->mutable_maxbroadcastable();
    if (kind == "minBroadcastable") l->mutable_minbroadcastable();
  }

  void conv(const mil::Operation& op, bool transposed) {
    const auto xs = shape(arg(op, "x"));
    const Tensor& w = ctensor(op, "weight");
    const Shape& ws = w.shape();
    const auto groups = has(op, "groups") ? ints(op, "groups").at(0) : 1;
    const auto strides = ints(op, "strides"), dil = ints(op, "dilations");
    std::vector<std::int64_t> pad(2 * (xs.size() - 2), 0);
    if (text(op, "pad_type", "valid") == "custom") pad = ints(op, "pad");
    const bool bias = has(op, "bias");
    const auto os = shape(out(op));
    if (xs.size() == 4) {
      auto* c = layer1("convolution", op, {x(op)}, 1)->mutable_convolution();
      c->set_isdeconvolution(transposed);
      c->set_outputchannels(static_cast<std::uint64_t>(transposed ? ws[1] * groups : ws[0]));
      c->set_kernelchannels(static_cast<std::uint64_t>(ws[transposed ? 0 : 1]));
      c->set_ngroups(static_cast<std::uint64_t>(groups));
      for (int i : {2, 3}) c->add_kernelsize(static_cast<std::uint64_t>(ws[static_cast<std::size_t>(i)]));
      for (auto s : strides) c->add_stride(static_cast<std::uint64_t>(s));
      for (auto d : dil) c->add_dilationfactor(static_cast<std::uint64_t>(d));
      for (int a : {0, 1}) {
        auto* e = c->mutable_valid()->mutable_paddingamounts()->add_borderamounts();
        e->set_startedgesize(static_cast<std::uint64_t>(pad[static_cast<std::size_t>(2 * a)]));
        e->set_endedgesize(static_cast<std::uint64_t>(pad[static_cast<std::size_t>(2 * a + 1)]));
      }
      if (transposed)
        for (int i : {2, 3}) c->add_outputshape(static_cast<std::uint64_t>(os[static_cast<std::size_t>(i)]));
      c->set_hasbias(bias);
      weights(c->mutable_weights(), w);
      if (bias) weights(c->mutable_bias(), ctensor(op, "bias"));
    } else if (xs.size() == 5) {
      auto* c = layer1("convolution3d", op, {x(op)}, 5)->mutable_convolution3d();
      c->set_isdeconvolution(transposed);
      c->set_outputchannels(static_cast<std::int32_t>(transposed ? ws[1] * groups : ws[0]));
      c->set_inputchannels(static_cast<std::int32_t>(transposed ? ws[0] : ws[1] * groups));
      c->set_ngroups(static_cast<std::int32_t>(groups));
      c->set_kerneldepth(static_cast<std::int32_t>(ws[2]));
      c->set_kernelheight(static_cast<std::int32_t>(ws[3]));
      c->set_kernelwidth(static_cast<std::int32_t>(ws[4]));
      c->set_stridedepth(static_cast<std::int32_t>(strides[0]));
      c->set_strideheight(static_cast<std::int32_t>(strides[1]));
      c->set_stridewidth(static_cast<std::int32_t>(strides[2]));
      c->set_dilationdepth(static_cast<std::int32_t>(dil[0]));
      c->set_dilationheight(static_cast<std::int32_t>(dil[1]));
      c->set_dilationwidth(static_cast<std::int32_t>(dil[2]));
      c->set_paddingtype(spec::Convolution3DLayerParams::CUSTOM);
      c->set_custompaddingfront(static_cast<std::int32_t>(pad[0]));
      c->set_custompaddingback(static_cast<std::int32_t>(pad[1]));
      c->set_custompaddingtop(static_cast<std::int32_t>(pad[2]));
      c->set_custompaddingbottom(static_cast<std::int32_t>(pad[3]));
      c->set_custompaddingleft(static_cast<std::int32_t>(pad[4]));
      c->set_custompaddingright(static_cast<std::int32_t>(pad[5]));
      if (transposed)
        for (int i : {2, 3, 4}) c->add_outputshape(static_cast<std::uint64_t>(os[static_cast<std::size_t>(i)]));
      c->set_hasbias(bias);
      weights(c->mutable_weights(), w);
      if (bias) weights(c->mutable_bias(), ctensor(op, "bias"));
    } else {
      unsupported("a convolution of rank " + std::to_string(xs.size()));
    }
  }

  void pool(const mil::Operation& op, bool average) {
    const auto xs = shape(arg(op, "x"));
    const auto k = ints(op, "kernel_sizes"), s = ints(op, "strides");
    std::vector<std::int64_t> pad(2 * (xs.size() - 2), 0);
    if (text(op, "pad_type", "valid") == "custom") pad = ints(op, "pad");
    const bool exclude = scalar(op, "exclude_padding_from_average", 0) != 0;
    if (has(op, "ceil_mode") && scalar(op, "ceil_mode", 0) != 0) {
      // ceil_mode: the last window reaches past the end; padding the end by what it needs gives the
      // same windows (max ignores padding; an average must exclude it, as PyTorch's does then).
      if (average && !exclude) unsupported("an average pooling with ceil_mode that counts padding");
      const auto os = shape(out(op));
      for (std::size_t i = 0; i + 2 < xs.size(); ++i) {
        const std::int64_t need = (os[2 + i] - 1) * s[i] + k[i] - (xs[2 + i] + pad[2 * i] + pad[2 * i + 1]);
        if (need > 0) pad[2 * i + 1] += need;
      }
    }
    if (xs.size() == 4) {
      auto* p = layer1("pooling", op, {x(op)}, 1)->mutable_pooling();
      p->set_type(average ? spec::PoolingLayerParams::AVERAGE : spec::PoolingLayerParams::MAX);
      for (auto v : k) p->add_kernelsize(static_cast<std::uint64_t>(v));
      for (auto v : s) p->add_stride(static_cast<std::uint64_t>(v));
      for (int a : {0, 1}) {
        auto* e = p->mutable_valid()->mutable_paddingamounts()->add_borderamounts();
        e->set_startedgesize(static_cast<std::uint64_t>(pad[static_cast<std::size_t>(2 * a)]));
        e->set_endedgesize(static_cast<std::uint64_t>(pad[static_cast<std::size_t>(2 * a + 1)]));
      }
      p->set_avgpoolexcludepadding(exclude);
    } else if (xs.size() == 5) {
      auto* p = layer1("pooling3d", op, {x(op)}, 5)->mutable_pooling3d();
      p->set_type(average ? spec::Pooling3DLayerParams::AVERAGE : spec::Pooling3DLayerParams::MAX);
      p->set_kerneldepth(static_cast<std::int32_t>(k[0]));
      p->set_kernelheight(static_cast<std::int32_t>(k[1]));
      p->set_kernelwidth(static_cast<std::int32_t>(k[2]));
      p->set_stridedepth(static_cast<std::int32_t>(s[0]));
      p->set_strideheight(static_cast<std::int32_t>(s[1]));
      p->set_stridewidth(static_cast<std::int32_t>(s[2]));
      p->set_paddingtype(spec::Pooling3DLayerParams::CUSTOM);
      p->set_custompaddingfront(static_cast<std::int32_t>(pad[0]));
      p->set_custompaddingback(static_cast<std::int32_t>(pad[1]));
      p->set_custompaddingtop(static_cast<std::int32_t>(pad[2]));
      p->set_custompaddingbottom(static_cast<std::int32_t>(pad[3]));
      p->set_custompaddingleft(static_cast<std::int32_t>(pad[4]));
      p->set_custompaddingright(static_cast<std::int32_t>(pad[5]));
      p->set_countexcludepadding(exclude);
    } else {
      unsupported("pooling of rank " + std::to_string(xs.size()));
    }
  }

  template <class Params>
  void reduce(const mil::Operation& op, Params* p) {
    for (auto a : ints(op, "axes")) p->add_axes(a);
    p->set_keepdims(scalar(op, "keep_dims", 0) != 0);
  }

  spec::NeuralNetwork* nn_;
  const mil::Block& block_;
  const WriteOptions& options_;
  std::string source_;
  const mil::Operation* op_ = nullptr;
  std::map<std::string, ConstValue> consts_;
  std::map<std::string, std::vector<std::int64_t>> shapes_;
  std::map<std::string, std::string> aliases_;
  std::set<std::string> loaded_;
  NeuralNetworkBuild build_;
  int required_spec_ = 4;  // N-D array mapping
  std::string required_layer_ = "N-D array layers";
};

const std::map<std::string, Lowering::Handler>& Lowering::handlers() {
  static const std::map<std::string, Handler> table = [] {
    using U = spec::UnaryFunctionLayerParams;
    std::map<std::string, Handler> t;
    t["conv"] = [](Lowering& l, const mil::Operation& op) { l.conv(op, false); };
    t["conv_transpose"] = [](Lowering& l, const mil::Operation& op) { l.conv(op, true); };
    t["avg_pool"] = [](Lowering& l, const mil::Operation& op) { l.pool(op, true); };
    t["max_pool"] = [](Lowering& l, const mil::Operation& op) { l.pool(op, false); };
    t["instance_norm"] = [](Lowering& l, const mil::Operation& op) {
      const auto xs = l.shape(l.arg(op, "x"));
      std::string in = l.x(op);
      const std::string out = l.out(op);
      if (xs.size() == 3) {  // batchnorm normalizes [.., C, H, W]: add a unit width
        l.layer("expandDims", out + "_4d", {in}, {out + "_4d"}, 4)->mutable_expanddims()->add_axes(-1);
        in = out + "_4d";
      } else if (xs.size() != 4) {
        l.unsupported("instance normalization of rank " + std::to_string(xs.size()));
      }
      const std::string bn_out = xs.size() == 3 ? out + "_normed" : out;
      auto* b = l.layer("batchnorm", bn_out, {in}, {bn_out}, 1)->mutable_batchnorm();
      b->set_channels(static_cast<std::uint64_t>(xs[1]));
      b->set_computemeanvar(true);
      b->set_instancenormalization(true);
      b->set_epsilon(l.scalar(op, "epsilon", 1e-5f));
      l.weights(b->mutable_gamma(), l.ctensor(op, "gamma"));
      l.weights(b->mutable_beta(), l.ctensor(op, "beta"));
      if (xs.size() == 3) l.layer("squeeze", out, {bn_out}, {out}, 4)->mutable_squeeze()->add_axes(-1);
    };
    t["batch_norm"] = [](Lowering& l, const mil::Operation& op) {
      const auto xs = l.shape(l.arg(op, "x"));
      auto* b = l.layer1("batchnorm", op, {l.x(op)}, 1)->mutable_batchnorm();
      b->set_channels(static_cast<std::uint64_t>(xs[1]));
      b->set_epsilon(l.scalar(op, "epsilon", 1e-5f));
      l.weights(b->mutable_gamma(), l.ctensor(op, "gamma"));
      l.weights(b->mutable_beta(), l.ctensor(op, "beta"));
      l.weights(b->mutable_mean(), l.ctensor(op, "mean"));
      l.weights(b->mutable_variance(), l.ctensor(op, "variance"));
    };
    t["layer_norm"] = [](Lowering& l, const mil::Operation& op) {
      const auto xs = l.shape(l.arg(op, "x"));
      auto* n = l.layer1("layerNormalization", op, {l.x(op)}, 4)->mutable_layernormalization();
      for (auto a : l.ints(op, "axes")) n->add_normalizedshape(xs[static_cast<std::size_t>(a < 0 ? a + static_cast<std::int64_t>(xs.size()) : a)]);
      n->set_eps(l.scalar(op, "epsilon", 1e-5f));
      l.weights(n->mutable_gamma(), l.ctensor(op, "gamma"));
      if (l.has(op, "beta")) {
        l.weights(n->mutable_beta(), l.ctensor(op, "beta"));
      } else {
        l.weights(n->mutable_beta(), Tensor::zeros(DType::F32, l.ctensor(op, "gamma").shape()));
      }
    };
    t["relu"] = [](Lowering& l, const mil::Operation& op) { l.activation(op)->mutable_relu(); };
    t["sigmoid"] = [](Lowering& l, const mil::Operation& op) { l.activation(op)->mutable_sigmoid(); };
    t["tanh"] = [](Lowering& l, const mil::Operation& op) { l.activation(op)->mutable_tanh(); };
    t["leaky_relu"] = [](Lowering& l, const mil::Operation& op) {
      l.activation(op)->mutable_leakyrelu()->set_alpha(l.scalar(op, "alpha", 0.01f));
    };
    t["thresholded_relu"] = [](Lowering& l, const mil::Operation& op) {
      l.activation(op)->mutable_thresholdedrelu()->set_alpha(l.scalar(op, "alpha", 1.0f));
    };
    t["sigmoid_hard"] = [](Lowering& l, const mil::Operation& op) {
      auto* a = l.activation(op)->mutable_sigmoidhard();
      a->set_alpha(l.scalar(op, "alpha", 0.2f));
      a->set_beta(l.scalar(op, "beta", 0.5f));
    };
    t["identity"] = [](Lowering& l, const mil::Operation& op) {
      l.activation(op)->mutable_linear()->set_alpha(1.0f);
    };
    t["cast"] = [](Lowering& l, const mil::Operation& op) {
      const std::string to = l.text(op, "dtype", "fp32");
      if (to != "fp32" && to != "fp16") l.unsupported("a cast to " + to);
      l.aliases_[l.out(op)] = l.x(op);
    };
    t["erf"] = [](Lowering& l, const mil::Operation& op) { l.layer1("erf", op, {l.x(op)}, 4)->mutable_erf(); };
    t["gelu"] = [](Lowering& l, const mil::Operation& op) {
      l.layer1("gelu", op, {l.x(op)}, 4)->mutable_gelu()->set_mode(
          l.text(op, "mode", "EXACT") == "EXACT" ? spec::GeluLayerParams::EXACT : spec::GeluLayerParams::TANH_APPROXIMATION);
    };
    t["sin"] = [](Lowering& l, const mil::Operation& op) { l.layer1("sin", op, {l.x(op)}, 4)->mutable_sin(); };
    t["cos"] = [](Lowering& l, const mil::Operation& op) { l.layer1("cos", op, {l.x(op)}, 4)->mutable_cos(); };
    t["exp"] = [](Lowering& l, const mil::Operation& op) { l.unary(op, U::EXP); };
    t["sqrt"] = [](Lowering& l, const mil::Operation& op) { l.unary(op, U::SQRT); };
    t["abs"] = [](Lowering& l, const mil::Operation& op) { l.unary(op, U::ABS); };
    t["log"] = [](Lowering& l, const mil::Operation& op) { l.unary(op, U::LOG, l.scalar(op, "epsilon", 1e-45f)); };
    t["rsqrt"] = [](Lowering& l, const mil::Operation& op) { l.unary(op, U::RSQRT, l.scalar(op, "epsilon", 1e-12f)); };
    t["inverse"] = [](Lowering& l, const mil::Operation& op) { l.unary(op, U::INVERSE, l.scalar(op, "epsilon", 1e-4f)); };
    t["clip"] = [](Lowering& l, const mil::Operation& op) {
      auto* c = l.layer1("clip", op, {l.x(op)}, 4)->mutable_clip();
      c->set_minval(l.scalar(op, "alpha", 0.0f));
      c->set_maxval(l.scalar(op, "beta", 0.0f));
    };
    t["silu"] = [](Lowering& l, const mil::Operation& op) {
      const std::string in = l.x(op), gate = l.out(op) + "_sigmoid";
      l.layer("activation", gate, {in}, {gate}, 1)->mutable_activation()->mutable_sigmoid();
      l.layer1("multiplyBroadcastable", op, {in, gate}, 4)->mutable_multiplybroadcastable();
    };
    for (const auto& [mil_op, kind] : std::map<std::string, std::string>{
             {"add", "addBroadcastable"}, {"sub", "subtractBroadcastable"}, {"mul", "multiplyBroadcastable"},
             {"real_div", "divideBroadcastable"}, {"pow", "powBroadcastable"}, {"maximum", "maxBroadcastable"},
             {"minimum", "minBroadcastable"}})
      t[mil_op] = [kind](Lowering& l, const mil::Operation& op) { l.elementwise(op, kind); };
    t["softmax"] = [](Lowering& l, const mil::Operation& op) {
      l.layer1("softmaxND", op, {l.x(op)}, 4)->mutable_softmaxnd()->set_axis(static_cast<std::int64_t>(l.scalar(op, "axis", -1)));
    };
    t["matmul"] = [](Lowering& l, const mil::Operation& op) {
      auto* m = l.layer1("batchedMatmul", op, {l.x(op), l.x(op, "y")}, 4)->mutable_batchedmatmul();
      m->set_transposea(l.scalar(op, "transpose_x", 0) != 0);
      m->set_transposeb(l.scalar(op, "transpose_y", 0) != 0);
    };
    t["linear"] = [](Lowering& l, const mil::Operation& op) {
      const Tensor& w = l.ctensor(op, "weight");
      const bool bias = l.has(op, "bias");
      if (l.shape(l.arg(op, "x")).size() <= 2) {
        auto* p = l.layer1("innerProduct", op, {l.x(op)}, 1)->mutable_innerproduct();
        p->set_inputchannels(static_cast<std::uint64_t>(w.shape()[1]));
        p->set_outputchannels(static_cast<std::uint64_t>(w.shape()[0]));
        p->set_hasbias(bias);
        l.weights(p->mutable_weights(), w);
        if (bias) l.weights(p->mutable_bias(), l.ctensor(op, "bias"));
        return;
      }
      // batchedMatmul's weight matrix is [in, out]: the transpose of torch's [out, in] (a view).
      const std::int64_t rows = w.shape()[0], cols = w.shape()[1];
      const Tensor transposed(w.storage(), w.offset(), {cols, rows}, {w.strides()[1], w.strides()[0]});
      auto* m = l.layer1("batchedMatmul", op, {l.x(op)}, 4)->mutable_batchedmatmul();
      m->set_weightmatrixfirstdimension(static_cast<std::uint64_t>(cols));
      m->set_weightmatrixseconddimension(static_cast<std::uint64_t>(rows));
      m->set_hasbias(bias);
      l.weights(m->mutable_weights(), transposed);
      if (bias) l.weights(m->mutable_bias(), l.ctensor(op, "bias"));
    };
    t["transpose"] = [](Lowering& l, const mil::Operation& op) {
      auto* p = l.layer1("transpose", op, {l.x(op)}, 4)->mutable_transpose();
      for (auto a : l.ints(op, "perm")) p->add_axes(static_cast<std::uint64_t>(a));
    };
    t["reshape"] = [](Lowering& l, const mil::Operation& op) {
      auto* p = l.layer1("reshapeStatic", op, {l.x(op)}, 4)->mutable_reshapestatic();
      for (auto d : l.shape(l.out(op))) {
        if (d < 0) l.unsupported("a reshape to a flexible shape");
        p->add_targetshape(d);
      }
    };
    t["concat"] = [](Lowering& l, const mil::Operation& op) {
      std::vector<std::string> ins;
      for (const auto& b : op.inputs().at("values").arguments()) ins.push_back(l.data(b.name()));
      auto* p = l.layer1("concatND", op, ins, 4)->mutable_concatnd();
      p->set_axis(static_cast<std::int64_t>(l.scalar(op, "axis", 0)));
    };
    t["split"] = [](Lowering& l, const mil::Operation& op) {
      std::vector<std::string> outs;
      for (const auto& o : op.outputs()) outs.push_back(o.name());
      auto* p = l.layer("splitND", outs.front(), {l.x(op)}, outs, 4)->mutable_splitnd();
      const auto xs = l.shape(l.arg(op, "x"));
      auto axis = static_cast<std::int64_t>(l.scalar(op, "axis", 0));
      p->set_axis(axis);
      if (axis < 0) axis += static_cast<std::int64_t>(xs.size());
      p->set_numsplits(static_cast<std::uint64_t>(outs.size()));
      for (const auto& o : op.outputs()) p->add_splitsizes(static_cast<std::uint64_t>(var_shape(o.type())[static_cast<std::size_t>(axis)]));
    };
    t["slice_by_index"] = [](Lowering& l, const mil::Operation& op) {
      const auto rank = l.shape(l.arg(op, "x")).size();
      auto* p = l.layer1("sliceStatic", op, {l.x(op)}, 4)->mutable_slicestatic();
      const auto begin = l.ints(op, "begin"), end = l.ints(op, "end");
      const auto stride = l.has(op, "stride") ? l.ints(op, "stride") : std::vector<std::int64_t>(rank, 1);
      auto mask = [&](const std::string& name) {
        std::vector<std::int64_t> m(rank, 0);
        if (l.has(op, name)) m = l.ints(op, name);
        return m;
      };
      const auto bm = mask("begin_mask"), em = mask("end_mask"), sm = mask("squeeze_mask");
      for (std::size_t a = 0; a < rank; ++a) {
        p->add_beginids(begin[a]);
        p->add_endids(end[a]);
        p->add_strides(stride[a]);
        p->add_beginmasks(bm[a] != 0);
        p->add_endmasks(em[a] != 0);
        p->add_squeezemasks(sm[a] != 0);
      }
    };
    t["squeeze"] = [](Lowering& l, const mil::Operation& op) {
      auto* p = l.layer1("squeeze", op, {l.x(op)}, 4)->mutable_squeeze();
      if (l.has(op, "axes")) {
        for (auto a : l.ints(op, "axes")) p->add_axes(a);
      } else {
        p->set_squeezeall(true);
      }
    };
    t["expand_dims"] = [](Lowering& l, const mil::Operation& op) {
      auto* p = l.layer1("expandDims", op, {l.x(op)}, 4)->mutable_expanddims();
      for (auto a : l.ints(op, "axes")) p->add_axes(a);
    };
    t["gather"] = [](Lowering& l, const mil::Operation& op) {
      const auto axis = static_cast<std::int64_t>(l.scalar(op, "axis", 0));
      if (!l.shape(l.arg(op, "indices")).empty()) {
        l.layer1("gather", op, {l.x(op), l.x(op, "indices")}, 4)->mutable_gather()->set_axis(axis);
        return;
      }
      // A scalar index drops the axis; loadConstantND holds at least one dim, so squeeze it.
      const std::string picked = l.out(op) + "_picked";
      l.layer("gather", picked, {l.x(op), l.x(op, "indices")}, {picked}, 4)->mutable_gather()->set_axis(axis);
      l.layer1("squeeze", op, {picked}, 4)->mutable_squeeze()->add_axes(axis);
    };
    t["tile"] = [](Lowering& l, const mil::Operation& op) {
      auto* p = l.layer1("tile", op, {l.x(op)}, 4)->mutable_tile();
      for (auto r : l.ints(op, "reps")) p->add_reps(static_cast<std::uint64_t>(r));
    };
    t["reduce_mean"] = [](Lowering& l, const mil::Operation& op) {
      l.reduce(op, l.layer1("reduceMean", op, {l.x(op)}, 4)->mutable_reducemean());
    };
    t["reduce_sum"] = [](Lowering& l, const mil::Operation& op) {
      l.reduce(op, l.layer1("reduceSum", op, {l.x(op)}, 4)->mutable_reducesum());
    };
    t["reduce_max"] = [](Lowering& l, const mil::Operation& op) {
      l.reduce(op, l.layer1("reduceMax", op, {l.x(op)}, 4)->mutable_reducemax());
    };
    t["reduce_argmax"] = [](Lowering& l, const mil::Operation& op) {
      auto* p = l.layer1("argMax", op, {l.x(op)}, 4)->mutable_argmax();
      p->set_axis(static_cast<std::int64_t>(l.scalar(op, "axis", 0)));
      p->set_removedim(l.scalar(op, "keep_dims", 0) == 0);
    };
    t["upsample_nearest_neighbor"] = [](Lowering& l, const mil::Operation& op) {
      auto* p = l.layer1("upsample", op, {l.x(op)}, 1)->mutable_upsample();
      p->add_scalingfactor(static_cast<std::uint64_t>(l.scalar(op, "scale_factor_height", 1)));
      p->add_scalingfactor(static_cast<std::uint64_t>(l.scalar(op, "scale_factor_width", 1)));
      p->set_mode(spec::UpsampleLayerParams::NN);
    };
    t["upsample_bilinear"] = [](Lowering& l, const mil::Operation& op) {
      auto* p = l.layer1("upsample", op, {l.x(op)}, 4)->mutable_upsample();
      p->add_scalingfactor(static_cast<std::uint64_t>(l.scalar(op, "scale_factor_height", 1)));
      p->add_scalingfactor(static_cast<std::uint64_t>(l.scalar(op, "scale_factor_width", 1)));
      p->set_mode(spec::UpsampleLayerParams::BILINEAR);
      p->set_linearupsamplemode(l.scalar(op, "align_corners", 0) != 0 ? spec::UpsampleLayerParams::ALIGN_CORNERS_TRUE
                                                                       : spec::UpsampleLayerParams::ALIGN_CORNERS_FALSE);
    };
    t["pad"] = [](Lowering& l, const mil::Operation& op) {
      if (l.text(op, "mode", "constant") != "constant") l.unsupported("reflect/replicate padding");
      const auto rank = l.shape(l.arg(op, "x")).size();
      const auto p = l.ints(op, "pad");
      auto* c = l.layer1("constantPad", op, {l.x(op)}, 4)->mutable_constantpad();
      c->set_value(l.scalar(op, "constant_val", 0.0f));
      for (std::size_t i = 0; i < 2 * rank - p.size(); ++i) c->add_padamounts(0);
      for (auto v : p) c->add_padamounts(static_cast<std::uint64_t>(v));
    };
    return t;
  }();
  return table;
}

std::string ios_name(int spec) { return spec <= 4 ? "iOS13 / macOS10.15" : spec == 5 ? "iOS14 / macOS11" : "iOS" + std::to_string(spec + 9); }

}  // namespace

NeuralNetworkBuild build_neural_network(const PreparedGraph& graph, const WriteOptions& options, const std::string& source,
                                        spec::Model* model) {
  if (options.target.specification_version < 4)
    throw UsageError("the neuralnetwork backend targets iOS13 / macOS10.15 or later");
  // The float32 MIL program the layers are lowered from.
  WriteOptions mil_options = options;
  mil_options.fp16 = false;
  mil_options.fp16_io = false;
  mil_options.target = parse_target("iOS15");
  spec::Model program;
  BlobPlan blobs;
  build_ml_program(graph, mil_options, source, &program, &blobs);
  const auto& fn = program.mlprogram().functions().at("main");
  const mil::Block& block = fn.block_specializations().at(fn.opset());

  model->set_specificationversion(options.target.specification_version);
  WriteOptions io = options;
  io.fp16_io = false;
  describe_interface(graph, io, source, model);
  auto* nn = model->mutable_neuralnetwork();
  nn->set_arrayinputshapemapping(spec::EXACT_ARRAY_MAPPING);
  nn->set_imageinputshapemapping(spec::RANK4_IMAGE_MAPPING);
  Lowering lowering(nn, fn, block, blobs, options, source);
  NeuralNetworkBuild build = lowering.run();
  if (lowering.required_spec() > options.target.specification_version)
    throw InputError(source, "the NeuralNetwork layer '" + lowering.required_layer() + "' needs " +
                                 ios_name(lowering.required_spec()) + " or later; the target " + options.target.name +
                                 " lacks it (use --deployment-target " + (lowering.required_spec() == 5 ? "iOS14" : "iOS13") +
                                 " or later)");
  return build;
}

}  // namespace medport::coreml
