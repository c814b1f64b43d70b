// A NeuralNetwork model (N-D array mode) -> graph::Graph: each layer read from its own fields,
// weights from floatValue or float16Value (upcast exactly); computation in float32 as Core ML
// runs NeuralNetwork models on the CPU.
#include <cstring>
#include <functional>

#include "export/coreml/mil_builder.hpp"
#include "export/coreml/reader.hpp"
#include "medport/error.hpp"
#include "medport/graph/builder.hpp"
#include "medport/graph/static_shapes.hpp"

namespace medport::coreml {

namespace {

using graph::Attribute;
using graph::Value;
using Layer = spec::NeuralNetworkLayer;

class NnReader {
 public:
  explicit NnReader(const SpecFile& file) : file_(file), b_("coreml") {}

  graph::Graph read() {
    const auto& d = file_.model.description();
    for (const auto& in : d.input()) {
      if (!in.type().has_multiarraytype()) fail("input '" + in.name() + "' is not a multi-array");
      const auto& a = in.type().multiarraytype();
      graph::Dims dims;
      for (auto s : a.shape()) dims.emplace_back(s);
      if (a.datatype() == spec::ArrayFeatureType::INT32) {
        values_[in.name()] = b_.cast(b_.input(in.name(), DType::I32, dims), DType::F32, in.name() + "_float");
      } else {
        values_[in.name()] = b_.input(in.name(), DType::F32, dims);
      }
    }
    for (const auto& layer : file_.model.neuralnetwork().layers()) {
      layer_ = &layer;
      const auto& table = handlers();
      const auto kind = static_cast<int>(layer.layer_case());
      auto it = table.find(kind);
      if (it == table.end()) fail("layer kind " + std::to_string(kind) + " is not supported by medport's reader");
      it->second(*this, layer);
    }
    for (const auto& out : d.output()) {
      Value v = tensor(out.name());
      if (out.type().multiarraytype().datatype() == spec::ArrayFeatureType::INT32) v = b_.cast(v, DType::I32);
      b_.output(v, out.name());
    }
    return std::move(b_).finish();
  }

 private:
  using Handler = std::function<void(NnReader&, const Layer&)>;
  static const std::map<int, Handler>& handlers();

  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(file_.spec_path.string(), what + (layer_ ? " (layer '" + layer_->name() + "')" : std::string()));
  }
  Value tensor(const std::string& name) {
    auto it = values_.find(name);
    if (it == values_.end()) fail("'" + name + "' is used before it is defined");
    return it->second;
  }
  Value in(const Layer& l, int i = 0) {
    if (i >= l.input_size()) fail("missing input " + std::to_string(i));
    return tensor(l.input(i));
  }
  void set(const Layer& l, Value v, int i = 0) {
    if (i >= l.output_size()) fail("missing output");
    values_[l.output(i)] = v;
  }
  std::string hint(const Layer& l) const { return mil_identifier(l.name()); }
  Tensor weights(const spec::WeightParams& w, const Shape& shape) const {
    const auto n = static_cast<std::size_t>(declared_numel(file_.spec_path.string(), shape, "layer '" + layer_->name() + "' weights"));
    if (w.floatvalue_size() > 0) {
      if (static_cast<std::size_t>(w.floatvalue_size()) != n) fail("weights hold " + std::to_string(w.floatvalue_size()) + " values, expected " + std::to_string(n));
      return Tensor::from_f32(shape, std::span(w.floatvalue().data(), n));
    }
    if (w.float16value().size() != 2 * n) fail("float16 weights hold " + std::to_string(w.float16value().size() / 2) + " values, expected " + std::to_string(n));
    return Tensor::from_bytes(DType::F16, shape, std::as_bytes(std::span(w.float16value().data(), w.float16value().size()))).to(DType::F32);
  }
  Value init(const std::string& suffix, const Tensor& t) { return b_.initializer(mil_identifier(layer_->name()) + "_" + suffix, t); }
  std::vector<std::int64_t> shape_of(const Value& v) {
    const auto shapes = graph::infer_static_shapes(b_.graph());
    auto it = shapes.find(v.name());
    if (it == shapes.end()) fail("the shape of '" + v.name() + "' is unknown");
    return it->second;
  }

  // A list of two positive sizes (kernel, stride, dilation); when the field is empty, Core ML's
  // default (kernel 3x3, stride and dilation 1).
  std::vector<std::int64_t> pair_of(const google::protobuf::RepeatedField<std::uint64_t>& field, const std::string& what,
                                    std::int64_t fallback) const {
    std::vector<std::int64_t> v;
    for (const auto x : field) {
      if (x > std::uint64_t{1} << 31) fail(what + " " + std::to_string(x) + " is out of range");
      v.push_back(static_cast<std::int64_t>(x));
    }
    if (v.empty()) v = {fallback, fallback};
    if (const auto fault = length_fault(v.size(), 2, what); !fault.empty()) fail(fault);
    require_positive(file_.spec_path.string(), v, what);
    return v;
  }
  void require_rank(const std::vector<std::int64_t>& shape, std::size_t at_least, const std::string& what) const {
    if (const auto fault = rank_fault(shape, at_least, what); !fault.empty()) fail(fault);
  }

  void convolution(const Layer& l) {
    const auto& c = l.convolution();
    const bool de = c.isdeconvolution();
    const auto g = static_cast<std::int64_t>(std::max<std::uint64_t>(c.ngroups(), 1));
    const auto kernel = pair_of(c.kernelsize(), "kernel size", 3);
    const auto kh = kernel[0], kw = kernel[1];
    const auto out_ch = static_cast<std::int64_t>(c.outputchannels()), kc = static_cast<std::int64_t>(c.kernelchannels());
    const Shape ws = de ? Shape{kc, out_ch / g, kh, kw} : Shape{out_ch, kc, kh, kw};
    std::vector<std::int64_t> pads(4, 0);
    if (c.has_valid()) {
      const auto& b = c.valid().paddingamounts().borderamounts();
      for (int a = 0; a < b.size() && a < 2; ++a) {
        pads[static_cast<std::size_t>(a)] = static_cast<std::int64_t>(b[a].startedgesize());
        pads[static_cast<std::size_t>(a + 2)] = static_cast<std::int64_t>(b[a].endedgesize());
      }
    }
    std::vector<Attribute> attrs{Attribute::make_ints("kernel_shape", {kh, kw}),
                                 Attribute::make_ints("strides", pair_of(c.stride(), "stride", 1)),
                                 Attribute::make_ints("dilations", pair_of(c.dilationfactor(), "dilation", 1)),
                                 Attribute::make_ints("pads", pads), Attribute::make_int("group", g)};
    Value x = in(l);
    if (de && c.outputshape_size() == 2) attrs.push_back(Attribute::make_ints("output_padding", output_padding(x, attrs, c.outputshape())));
    std::vector<Value> ins{x, init("weight", weights(c.weights(), ws))};
    if (c.hasbias()) ins.push_back(init("bias", weights(c.bias(), {out_ch})));
    set(l, b_.op1(de ? "ConvTranspose" : "Conv", ins, attrs, hint(l)));
  }

  std::vector<std::int64_t> output_padding(const Value& x, const std::vector<Attribute>& attrs,
                                           const google::protobuf::RepeatedField<std::uint64_t>& out) {
    const auto xs = shape_of(x);
    if (xs.size() != 2 + static_cast<std::size_t>(out.size()))
      fail("deconvolution input of rank " + std::to_string(xs.size()) + " for an outputShape of " + std::to_string(out.size()));
    const std::size_t sp = xs.size() - 2;
    std::vector<std::int64_t> extra(sp, 0);
    for (std::size_t i = 0; i < sp; ++i) {
      const auto k = attrs[0].ints[i], s = attrs[1].ints[i], d = attrs[2].ints[i];
      const auto natural = s * (xs[2 + i] - 1) + (k - 1) * d + 1 - attrs[3].ints[i] - attrs[3].ints[sp + i];
      extra[i] = static_cast<std::int64_t>(out[static_cast<int>(i)]) - natural;
      if (extra[i] < 0 || extra[i] >= std::max(s, d)) fail("deconvolution outputShape cannot be reached");
    }
    return extra;
  }

  void convolution3d(const Layer& l) {
    const auto& c = l.convolution3d();
    const bool de = c.isdeconvolution();
    const std::int64_t g = std::max(c.ngroups(), 1);
    const Shape k{c.kerneldepth(), c.kernelheight(), c.kernelwidth()};
    const Shape ws = de ? Shape{c.inputchannels(), c.outputchannels() / g, k[0], k[1], k[2]}
                        : Shape{c.outputchannels(), c.inputchannels() / g, k[0], k[1], k[2]};
    if (c.paddingtype() != spec::Convolution3DLayerParams::CUSTOM) fail("3-D padding other than custom");
    require_positive(file_.spec_path.string(), k, "kernel size");
    require_positive(file_.spec_path.string(), {c.stridedepth(), c.strideheight(), c.stridewidth()}, "stride");
    std::vector<Attribute> attrs{
        Attribute::make_ints("kernel_shape", k),
        Attribute::make_ints("strides", {c.stridedepth(), c.strideheight(), c.stridewidth()}),
        Attribute::make_ints("dilations", {std::max(c.dilationdepth(), 1), std::max(c.dilationheight(), 1), std::max(c.dilationwidth(), 1)}),
        Attribute::make_ints("pads", {c.custompaddingfront(), c.custompaddingtop(), c.custompaddingleft(),
                                      c.custompaddingback(), c.custompaddingbottom(), c.custompaddingright()}),
        Attribute::make_int("group", g)};
    Value x = in(l);
    if (de && c.outputshape_size() == 3) attrs.push_back(Attribute::make_ints("output_padding", output_padding(x, attrs, c.outputshape())));
    std::vector<Value> ins{x, init("weight", weights(c.weights(), ws))};
    if (c.hasbias()) ins.push_back(init("bias", weights(c.bias(), {c.outputchannels()})));
    set(l, b_.op1(de ? "ConvTranspose" : "Conv", ins, attrs, hint(l)));
  }

  void pooling(const Layer& l) {
    const auto& p = l.pooling();
    const bool avg = p.type() == spec::PoolingLayerParams::AVERAGE;
    if (p.type() == spec::PoolingLayerParams::L2) fail("L2 pooling");
    if (p.globalpooling()) {
      set(l, b_.op1(avg ? "GlobalAveragePool" : "GlobalMaxPool", {in(l)}, {}, hint(l)));
      return;
    }
    std::vector<std::int64_t> pads(4, 0);
    const auto& b = p.valid().paddingamounts().borderamounts();
    for (int a = 0; a < b.size() && a < 2; ++a) {
      pads[static_cast<std::size_t>(a)] = static_cast<std::int64_t>(b[a].startedgesize());
      pads[static_cast<std::size_t>(a + 2)] = static_cast<std::int64_t>(b[a].endedgesize());
    }
    std::vector<Attribute> attrs{Attribute::make_ints("kernel_shape", pair_of(p.kernelsize(), "kernel size", 3)),
                                 Attribute::make_ints("strides", pair_of(p.stride(), "stride", 1)),
                                 Attribute::make_ints("pads", pads)};
    if (avg) attrs.push_back(Attribute::make_int("count_include_pad", !p.avgpoolexcludepadding()));
    set(l, b_.op1(avg ? "AveragePool" : "MaxPool", {in(l)}, attrs, hint(l)));
  }

  void pooling3d(const Layer& l) {
    const auto& p = l.pooling3d();
    const bool avg = p.type() == spec::Pooling3DLayerParams::AVERAGE;
    if (p.paddingtype() != spec::Pooling3DLayerParams::CUSTOM) fail("3-D pooling padding other than custom");
    require_positive(file_.spec_path.string(), {p.kerneldepth(), p.kernelheight(), p.kernelwidth()}, "kernel size");
    require_positive(file_.spec_path.string(), {p.stridedepth(), p.strideheight(), p.stridewidth()}, "stride");
    std::vector<Attribute> attrs{
        Attribute::make_ints("kernel_shape", {p.kerneldepth(), p.kernelheight(), p.kernelwidth()}),
        Attribute::make_ints("strides", {p.stridedepth(), p.strideheight(), p.stridewidth()}),
        Attribute::make_ints("pads", {p.custompaddingfront(), p.custompaddingtop(), p.custompaddingleft(),
                                      p.custompaddingback(), p.custompaddingbottom(), p.custompaddingright()})};
    if (avg) attrs.push_back(Attribute::make_int("count_include_pad", !p.countexcludepadding()));
    set(l, b_.op1(avg ? "AveragePool" : "MaxPool", {in(l)}, attrs, hint(l)));
  }

  void activation(const Layer& l) {
    const auto& a = l.activation();
    Value x = in(l);
    using A = spec::ActivationParams;
    switch (a.NonlinearityType_case()) {
      case A::kLinear: set(l, b_.add(b_.mul(x, a.linear().alpha()), a.linear().beta())); break;
      case A::kReLU: set(l, b_.relu(x, hint(l))); break;
      case A::kLeakyReLU: set(l, b_.leaky_relu(x, a.leakyrelu().alpha(), hint(l))); break;
      case A::kThresholdedReLU:
        set(l, b_.op1("ThresholdedRelu", {x}, {Attribute::make_float("alpha", a.thresholdedrelu().alpha())}, hint(l)));
        break;
      case A::kTanh: set(l, b_.tanh(x, hint(l))); break;
      case A::kSigmoid: set(l, b_.sigmoid(x, hint(l))); break;
      case A::kSigmoidHard:
        set(l, b_.op1("HardSigmoid", {x}, {Attribute::make_float("alpha", a.sigmoidhard().alpha()),
                                            Attribute::make_float("beta", a.sigmoidhard().beta())}, hint(l)));
        break;
      default: fail("an activation kind medport's reader does not know");
    }
  }

  void unary(const Layer& l) {
    const auto& u = l.unary();
    Value x = b_.add(b_.mul(in(l), u.scale() == 0.0f ? 1.0 : u.scale()), u.shift());
    using U = spec::UnaryFunctionLayerParams;
    switch (u.type()) {
      case U::SQRT: set(l, b_.sqrt(x)); break;
      case U::RSQRT: set(l, b_.reciprocal(b_.sqrt(b_.add(x, u.epsilon())))); break;
      case U::INVERSE: set(l, b_.reciprocal(b_.add(x, u.epsilon()))); break;
      case U::EXP: set(l, b_.exp(x)); break;
      case U::LOG: set(l, b_.log(b_.add(x, u.epsilon()))); break;
      case U::ABS: set(l, b_.abs(x)); break;
      case U::POWER: set(l, b_.pow(x, u.alpha())); break;
      default: fail("a unary function medport's reader does not know");
    }
  }

  void old_elementwise(const Layer& l, bool add) {
    const float alpha = add ? l.add().alpha() : l.multiply().alpha();
    if (l.input_size() == 1) {
      set(l, add ? b_.add(in(l), alpha) : b_.mul(in(l), alpha));
      return;
    }
    Value acc = in(l);
    for (int i = 1; i < l.input_size(); ++i) acc = add ? b_.add(acc, in(l, i)) : b_.mul(acc, in(l, i));
    set(l, acc);
  }

  void binary(const Layer& l, const std::string& op) { set(l, b_.op1(op, {in(l), in(l, 1)}, {}, hint(l))); }

  const SpecFile& file_;
  graph::Builder b_;
  const Layer* layer_ = nullptr;
  std::map<std::string, Value> values_;
};

const std::map<int, NnReader::Handler>& NnReader::handlers() {
  static const std::map<int, Handler> table = [] {
    std::map<int, Handler> t;
    t[Layer::kConvolution] = [](NnReader& r, const Layer& l) { r.convolution(l); };
    t[Layer::kConvolution3D] = [](NnReader& r, const Layer& l) { r.convolution3d(l); };
    t[Layer::kPooling] = [](NnReader& r, const Layer& l) { r.pooling(l); };
    t[Layer::kPooling3D] = [](NnReader& r, const Layer& l) { r.pooling3d(l); };
    t[Layer::kActivation] = [](NnReader& r, const Layer& l) { r.activation(l); };
    t[Layer::kUnary] = [](NnReader& r, const Layer& l) { r.unary(l); };
    t[Layer::kAdd] = [](NnReader& r, const Layer& l) { r.old_elementwise(l, true); };
    t[Layer::kMultiply] = [](NnReader& r, const Layer& l) { r.old_elementwise(l, false); };
    t[Layer::kAddBroadcastable] = [](NnReader& r, const Layer& l) { r.binary(l, "Add"); };
    t[Layer::kSubtractBroadcastable] = [](NnReader& r, const Layer& l) { r.binary(l, "Sub"); };
    t[Layer::kMultiplyBroadcastable] = [](NnReader& r, const Layer& l) { r.binary(l, "Mul"); };
    t[Layer::kDivideBroadcastable] = [](NnReader& r, const Layer& l) { r.binary(l, "Div"); };
    t[Layer::kPowBroadcastable] = [](NnReader& r, const Layer& l) { r.binary(l, "Pow"); };
    t[Layer::kMaxBroadcastable] = [](NnReader& r, const Layer& l) { r.binary(l, "Max"); };
    t[Layer::kMinBroadcastable] = [](NnReader& r, const Layer& l) { r.binary(l, "Min"); };
    t[Layer::kBatchnorm] = [](NnReader& r, const Layer& l) {
      const auto& b = l.batchnorm();
      const Shape c{static_cast<std::int64_t>(b.channels())};
      Value gamma = r.init("gamma", r.weights(b.gamma(), c)), beta = r.init("beta", r.weights(b.beta(), c));
      if (b.instancenormalization()) {
        if (!b.computemeanvar()) r.fail("instance normalization with given statistics");
        r.set(l, r.b_.instance_norm(r.in(l), gamma, beta, b.epsilon(), r.hint(l)));
      } else {
        if (b.computemeanvar()) r.fail("batch statistics computed at run time");
        r.set(l, r.b_.batch_norm(r.in(l), gamma, beta, r.init("mean", r.weights(b.mean(), c)),
                                 r.init("variance", r.weights(b.variance(), c)), b.epsilon(), r.hint(l)));
      }
    };
    t[Layer::kInnerProduct] = [](NnReader& r, const Layer& l) {
      const auto& p = l.innerproduct();
      const Shape ws{static_cast<std::int64_t>(p.outputchannels()), static_cast<std::int64_t>(p.inputchannels())};
      std::optional<Value> bias;
      if (p.hasbias()) bias = r.init("bias", r.weights(p.bias(), {ws[0]}));
      r.set(l, r.b_.linear(r.in(l), r.init("weight", r.weights(p.weights(), ws)), bias, r.hint(l)));
    };
    t[Layer::kBatchedMatmul] = [](NnReader& r, const Layer& l) {
      const auto& m = l.batchedmatmul();
      auto prep = [&](Value v, bool transpose) {
        if (!transpose) return v;
        r.require_rank(r.shape_of(v), 2, "transposed matmul input");
        const auto rank = static_cast<std::int64_t>(r.shape_of(v).size());
        std::vector<std::int64_t> perm;
        for (std::int64_t i = 0; i < rank; ++i) perm.push_back(i);
        std::swap(perm[static_cast<std::size_t>(rank - 1)], perm[static_cast<std::size_t>(rank - 2)]);
        return r.b_.transpose(v, perm);
      };
      Value a = prep(r.in(l), m.transposea());
      Value y;
      if (l.input_size() == 2) {
        y = r.b_.matmul(a, prep(r.in(l, 1), m.transposeb()), r.hint(l));
      } else {
        const Shape ws{static_cast<std::int64_t>(m.weightmatrixfirstdimension()),
                       static_cast<std::int64_t>(m.weightmatrixseconddimension())};
        y = r.b_.matmul(a, r.init("weight", r.weights(m.weights(), ws)), r.hint(l));
        if (m.hasbias()) y = r.b_.add(y, r.init("bias", r.weights(m.bias(), {ws[1]})));
      }
      r.set(l, y);
    };
    t[Layer::kLoadConstantND] = [](NnReader& r, const Layer& l) {
      const auto& c = l.loadconstantnd();
      r.set(l, r.init("value", r.weights(c.data(), Shape(c.shape().begin(), c.shape().end()))));
    };
    t[Layer::kSoftmaxND] = [](NnReader& r, const Layer& l) { r.set(l, r.b_.softmax(r.in(l), l.softmaxnd().axis(), r.hint(l))); };
    t[Layer::kReshapeStatic] = [](NnReader& r, const Layer& l) {
      const auto& s = l.reshapestatic().targetshape();
      r.set(l, r.b_.reshape(r.in(l), std::vector<std::int64_t>(s.begin(), s.end()), r.hint(l)));
    };
    t[Layer::kTranspose] = [](NnReader& r, const Layer& l) {
      const auto& a = l.transpose().axes();
      r.set(l, r.b_.transpose(r.in(l), std::vector<std::int64_t>(a.begin(), a.end()), r.hint(l)));
    };
    t[Layer::kConcatND] = [](NnReader& r, const Layer& l) {
      std::vector<Value> ins;
      for (int i = 0; i < l.input_size(); ++i) ins.push_back(r.in(l, i));
      r.set(l, r.b_.concat(ins, l.concatnd().axis(), r.hint(l)));
    };
    t[Layer::kSplitND] = [](NnReader& r, const Layer& l) {
      const auto& s = l.splitnd();
      if (s.splitsizes_size() == 0) r.fail("splitND without sizes");
      if (s.splitsizes_size() != l.output_size())
        r.fail("splitND into " + std::to_string(s.splitsizes_size()) + " parts declares " + std::to_string(l.output_size()) + " outputs");
      const auto parts = r.b_.split(r.in(l), s.axis(), {s.splitsizes().begin(), s.splitsizes().end()}, r.hint(l));
      for (int i = 0; i < l.output_size(); ++i) r.set(l, parts.at(static_cast<std::size_t>(i)), i);
    };
    t[Layer::kSliceStatic] = [](NnReader& r, const Layer& l) {
      const auto& s = l.slicestatic();
      const int rank = s.beginids_size();
      if (s.endids_size() != rank || s.strides_size() != rank || s.beginmasks_size() != rank || s.endmasks_size() != rank)
        r.fail("sliceStatic with begin, end, stride and mask lists of different lengths");
      std::vector<std::int64_t> starts, ends, axes, steps, squeeze;
      for (int a = 0; a < rank; ++a) {
        if (s.strides(a) == 0) r.fail("sliceStatic stride 0");
        const std::int64_t step = s.strides(a);
        std::int64_t b = s.beginmasks(a) ? (step > 0 ? 0 : std::numeric_limits<std::int64_t>::max()) : s.beginids(a);
        std::int64_t e = s.endmasks(a) ? (step > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min())
                                       : s.endids(a);
        if (a < s.squeezemasks_size() && s.squeezemasks(a)) {
          e = b + 1 == 0 ? std::numeric_limits<std::int64_t>::max() : b + 1;
          squeeze.push_back(a);
        }
        starts.push_back(b);
        ends.push_back(e);
        axes.push_back(a);
        steps.push_back(step);
      }
      Value v = r.b_.slice(r.in(l), starts, ends, axes, steps, r.hint(l));
      if (!squeeze.empty()) v = r.b_.squeeze(v, squeeze);
      r.set(l, v);
    };
    t[Layer::kSqueeze] = [](NnReader& r, const Layer& l) {
      const auto& s = l.squeeze();
      std::vector<std::int64_t> axes(s.axes().begin(), s.axes().end());
      if (s.squeezeall()) {
        const auto shape = r.shape_of(r.in(l));
        for (std::size_t i = 0; i < shape.size(); ++i)
          if (shape[i] == 1) axes.push_back(static_cast<std::int64_t>(i));
      }
      r.set(l, r.b_.squeeze(r.in(l), axes, r.hint(l)));
    };
    t[Layer::kExpandDims] = [](NnReader& r, const Layer& l) {
      const auto& a = l.expanddims().axes();
      r.set(l, r.b_.unsqueeze(r.in(l), std::vector<std::int64_t>(a.begin(), a.end()), r.hint(l)));
    };
    t[Layer::kGather] = [](NnReader& r, const Layer& l) {
      r.set(l, r.b_.gather(r.in(l), r.b_.cast(r.in(l, 1), DType::I64), l.gather().axis(), r.hint(l)));
    };
    t[Layer::kTile] = [](NnReader& r, const Layer& l) {
      const auto& reps = l.tile().reps();
      r.set(l, r.b_.tile(r.in(l), r.b_.const_i64(std::vector<std::int64_t>(reps.begin(), reps.end())), r.hint(l)));
    };
    auto reduce = [](const std::string& op, auto get) {
      return [op, get](NnReader& r, const Layer& l) {
        const auto& p = get(l);
        if (p.reduceall()) r.fail("reduceAll");
        r.set(l, r.b_.reduce(op, r.in(l), {p.axes().begin(), p.axes().end()}, p.keepdims(), r.hint(l)));
      };
    };
    t[Layer::kReduceMean] = reduce("ReduceMean", [](const Layer& l) -> const auto& { return l.reducemean(); });
    t[Layer::kReduceSum] = reduce("ReduceSum", [](const Layer& l) -> const auto& { return l.reducesum(); });
    t[Layer::kReduceMax] = reduce("ReduceMax", [](const Layer& l) -> const auto& { return l.reducemax(); });
    t[Layer::kArgMax] = [](NnReader& r, const Layer& l) {
      r.set(l, r.b_.cast(r.b_.argmax(r.in(l), l.argmax().axis(), !l.argmax().removedim(), r.hint(l)), DType::F32));
    };
    t[Layer::kUpsample] = [](NnReader& r, const Layer& l) {
      const auto& u = l.upsample();
      if (u.scalingfactor_size() != 2) r.fail("upsample without integer factors");
      graph::ResizeOptions o;
      if (u.mode() == spec::UpsampleLayerParams::NN) {
        o = graph::ResizeOptions::torch_nearest();
      } else {
        o.mode = "linear";
        o.coordinate_transformation_mode =
            u.linearupsamplemode() == spec::UpsampleLayerParams::ALIGN_CORNERS_TRUE ? "align_corners" : "half_pixel";
        if (u.linearupsamplemode() == spec::UpsampleLayerParams::DEFAULT) r.fail("bilinear upsample in the DEFAULT mode");
      }
      const auto in_shape = r.shape_of(r.in(l));
      r.require_rank(in_shape, 2, "upsample input");
      const auto rank = in_shape.size();
      std::vector<float> scales(rank, 1.0f);
      scales[rank - 2] = static_cast<float>(u.scalingfactor(0));
      scales[rank - 1] = static_cast<float>(u.scalingfactor(1));
      r.set(l, r.b_.resize(r.in(l), scales, o, r.hint(l)));
    };
    t[Layer::kClip] = [](NnReader& r, const Layer& l) {
      r.set(l, r.b_.clip(r.in(l), l.clip().minval(), l.clip().maxval(), r.hint(l)));
    };
    t[Layer::kSin] = [](NnReader& r, const Layer& l) { r.set(l, r.b_.sin(r.in(l), r.hint(l))); };
    t[Layer::kCos] = [](NnReader& r, const Layer& l) { r.set(l, r.b_.cos(r.in(l), r.hint(l))); };
    t[Layer::kTanh] = [](NnReader& r, const Layer& l) { r.set(l, r.b_.tanh(r.in(l), r.hint(l))); };
    t[Layer::kErf] = [](NnReader& r, const Layer& l) { r.set(l, r.b_.erf(r.in(l), r.hint(l))); };
    t[Layer::kGelu] = [](NnReader& r, const Layer& l) {
      if (l.gelu().mode() != spec::GeluLayerParams::EXACT) r.fail("gelu approximation");
      r.set(l, r.b_.gelu(r.in(l), r.hint(l)));
    };
    t[Layer::kLayerNormalization] = [](NnReader& r, const Layer& l) {
      const auto& n = l.layernormalization();
      const Shape s(n.normalizedshape().begin(), n.normalizedshape().end());
      r.set(l, r.b_.layer_norm(r.in(l), r.init("gamma", r.weights(n.gamma(), s)), r.init("beta", r.weights(n.beta(), s)),
                               -static_cast<std::int64_t>(s.size()), n.eps(), r.hint(l)));
    };
    t[Layer::kConstantPad] = [](NnReader& r, const Layer& l) {
      const auto& c = l.constantpad();
      const auto rank = static_cast<std::size_t>(c.padamounts_size() / 2);
      std::vector<std::int64_t> pads(2 * rank);
      for (std::size_t a = 0; a < rank; ++a) {
        pads[a] = static_cast<std::int64_t>(c.padamounts(static_cast<int>(2 * a)));
        pads[rank + a] = static_cast<std::int64_t>(c.padamounts(static_cast<int>(2 * a + 1)));
      }
      r.set(l, r.b_.pad(r.in(l), pads, "constant", c.value(), r.hint(l)));
    };
    return t;
  }();
  return table;
}

}  // namespace

graph::Graph read_neural_network(const SpecFile& file) {
  NnReader reader(file);
  graph::Graph g = reader.read();
  g.name = file.path.stem().string();
  return g;
}

}  // namespace medport::coreml
