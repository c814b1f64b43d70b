// float32 -> float16 conversion with float32 islands and Cast nodes at the boundaries.
#include "medport/graph/fp16.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

namespace medport::graph {

std::set<std::string> default_fp32_op_types() {
  return {"InstanceNormalization", "LayerNormalization", "GroupNormalization", "Softmax", "LogSoftmax",
          "ReduceMean", "ReduceSum", "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum",
          "ReduceLogSumExp", "ReduceProd", "Resize", "Upsample", "Range", "CumSum", "Pow", "Sqrt", "Exp",
          "Log", "Cos", "Sin", "TopK", "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "EyeLike"};
}

namespace {

constexpr std::int64_t kOnnxFloat = 1;
constexpr std::int64_t kOnnxFloat16 = 10;

Tensor to_half(const Tensor& tensor, const Fp16Options& o) {
  const std::vector<float> values = tensor.to_f32();
  std::vector<std::uint16_t> bits(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    float v = values[i];
    if (!std::isnan(v)) v = std::clamp(v, -o.max_finite, o.max_finite);
    if (o.min_positive > 0.0f && v != 0.0f && std::fabs(v) < o.min_positive) v = std::copysign(o.min_positive, v);
    bits[i] = float_to_half(v);
  }
  return Tensor::from_bytes(DType::F16, tensor.shape(), std::as_bytes(std::span(bits.data(), bits.size())));
}

// Inputs that ONNX requires in float32 whatever the data type (Resize's roi and scales).
bool input_stays_fp32(const Node& node, std::size_t index) {
  if (node.op_type == "Resize") return index == 1 || index == 2;
  if (node.op_type == "Upsample") return index == 1;
  return false;
}

// Ops worth running in half even when a float32 op consumes their result.
bool is_heavy(const std::string& op_type) {
  return op_type == "Conv" || op_type == "ConvTranspose" || op_type == "MatMul" || op_type == "Gemm" ||
         op_type == "Einsum" || op_type == "ConvInteger" || op_type == "MatMulInteger";
}

// Ops that accept any element type and whose inputs therefore need no Cast.
bool accepts_any_type(const std::string& op_type) {
  return op_type == "Cast" || op_type == "Shape" || op_type == "Size" || op_type == "CastLike" ||
         op_type == "Identity";
}

class Fp16Converter {
 public:
  Fp16Converter(const Graph& graph, const Fp16Options& options)
      : in_(graph), o_(options), orig_types_(infer_dtypes(graph)) {
    for (const auto& v : graph.inputs) used_.insert(v.name);
    for (const auto& v : graph.initializers) {
      used_.insert(v.name);
      initializer_names_.insert(v.name);
    }
    for (const auto& n : graph.nodes) {
      node_names_.insert(n.name);
      for (const auto& v : n.outputs) used_.insert(v);
    }
  }

  Graph run() {
    out_.name = in_.name;
    out_.doc_string = in_.doc_string;
    out_.opset = in_.opset;
    out_.metadata_props = in_.metadata_props;
    decide_node_precision();
    convert_initializers();
    convert_inputs();
    for (std::size_t i = 0; i < in_.nodes.size(); ++i) convert_node(in_.nodes[i], node_fp32_[i]);
    convert_outputs();
    validate(out_);
    return std::move(out_);
  }

 private:
  bool was_f32(const std::string& name) const {
    auto it = orig_types_.find(name);
    return it != orig_types_.end() && it->second == DType::F32;
  }

  std::string claim(std::set<std::string>& used, const std::string& base) {
    std::string name = base;
    for (int i = 1; used.count(name); ++i) name = base + "_" + std::to_string(i);
    used.insert(name);
    return name;
  }

  void decide_node_precision() {
    node_fp32_.reserve(in_.nodes.size());
    for (const auto& n : in_.nodes)
      node_fp32_.push_back(n.keep_fp32 || o_.fp32_op_types.count(n.op_type) > 0 || o_.fp32_node_names.count(n.name) > 0);
    if (o_.extend_fp32_upstream) extend_fp32_upstream();
  }

  // A light node whose results only feed float32 nodes runs in float32 as well (visiting
  // consumers before producers, so whole chains follow): a sinusoidal embedding's t * freq then
  // stays exact up to Cos/Sin instead of being rounded to half first.
  void extend_fp32_upstream() {
    std::map<std::string, std::vector<std::size_t>> consumers;
    for (std::size_t k = 0; k < in_.nodes.size(); ++k)
      for (const auto& in : in_.nodes[k].inputs)
        if (!in.empty()) consumers[in].push_back(k);
    std::set<std::string> graph_outputs;
    for (const auto& out : in_.outputs) graph_outputs.insert(out.name);
    for (std::size_t k = in_.nodes.size(); k-- > 0;) {
      const Node& n = in_.nodes[k];
      if (node_fp32_[k] || is_heavy(n.op_type)) continue;
      bool any_fp32 = false, all_fp32 = true;
      for (const auto& out : n.outputs) {
        if (graph_outputs.count(out)) all_fp32 = false;
        for (std::size_t c : consumers[out]) {
          if (accepts_any_type(in_.nodes[c].op_type)) continue;
          any_fp32 = any_fp32 || node_fp32_[c];
          all_fp32 = all_fp32 && node_fp32_[c];
        }
      }
      if (any_fp32 && all_fp32) node_fp32_[k] = true;
    }
  }

  // float32 initializers become float16 when only float16 consumers read them; an initializer
  // read by both kinds keeps its float32 copy and gains a float16 one.
  void convert_initializers() {
    std::map<std::string, std::pair<bool, bool>> wants;  // name -> (fp16 reader, fp32 reader)
    for (std::size_t k = 0; k < in_.nodes.size(); ++k) {
      const Node& n = in_.nodes[k];
      if (accepts_any_type(n.op_type)) continue;
      for (std::size_t i = 0; i < n.inputs.size(); ++i) {
        if (n.inputs[i].empty() || !initializer_names_.count(n.inputs[i])) continue;
        auto& w = wants[n.inputs[i]];
        (input_stays_fp32(n, i) || node_fp32_[k] ? w.second : w.first) = true;
      }
    }
    for (const auto& out : in_.outputs)
      if (initializer_names_.count(out.name)) (o_.keep_io_types ? wants[out.name].second : wants[out.name].first) = true;
    for (const auto& init : in_.initializers) {
      if (init.tensor.dtype() != DType::F32) {
        out_.initializers.push_back(init);
        types_[init.name] = init.tensor.dtype();
        continue;
      }
      const auto it = wants.find(init.name);
      const bool to16 = it == wants.end() || it->second.first;
      const bool keep32 = it != wants.end() && it->second.second;
      if (to16 && !keep32) {
        out_.initializers.push_back({init.name, to_half(init.tensor, o_)});
        types_[init.name] = DType::F16;
      } else {
        out_.initializers.push_back(init);
        types_[init.name] = DType::F32;
        if (to16) {
          const std::string half = claim(used_, init.name + ".fp16");
          out_.initializers.push_back({half, to_half(init.tensor, o_)});
          types_[half] = DType::F16;
          cast_cache_[{init.name, DType::F16}] = half;
        }
      }
    }
  }

  void convert_inputs() {
    for (auto info : in_.inputs) {
      if (info.dtype == DType::F32 && !o_.keep_io_types) info.dtype = DType::F16;
      types_[info.name] = info.dtype;
      out_.inputs.push_back(std::move(info));
    }
  }

  // `value` as `want` (float16 or float32), through a shared Cast node when it is the other one.
  std::string as_type(const std::string& value, DType want) {
    auto it = types_.find(value);
    if (it == types_.end() || it->second == want) return value;
    if (auto cached = cast_cache_.find({value, want}); cached != cast_cache_.end()) return cached->second;
    const std::string suffix = want == DType::F16 ? ".to_fp16" : ".to_fp32";
    Node cast;
    cast.name = claim(node_names_, value + suffix);
    cast.op_type = "Cast";
    cast.inputs = {value};
    cast.outputs = {claim(used_, value + suffix)};
    cast.attributes = {Attribute::make_int("to", want == DType::F16 ? kOnnxFloat16 : kOnnxFloat)};
    cast.keep_fp32 = want == DType::F32;
    types_[cast.outputs[0]] = want;
    cast_cache_[{value, want}] = cast.outputs[0];
    out_.nodes.push_back(cast);
    return cast.outputs[0];
  }

  void convert_node(Node node, bool fp32) {
    if (!accepts_any_type(node.op_type)) {
      for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        const std::string& in = node.inputs[i];
        if (in.empty() || !was_f32(in)) continue;
        node.inputs[i] = as_type(in, fp32 || input_stays_fp32(node, i) ? DType::F32 : DType::F16);
      }
    }
    if (!fp32) {
      for (auto& attr : node.attributes) {
        const bool cast_to_float = node.op_type == "Cast" && attr.name == "to" && attr.i == kOnnxFloat;
        if (cast_to_float) attr.i = kOnnxFloat16;
        const bool float_constant = (node.op_type == "Constant" || node.op_type == "ConstantOfShape") &&
                                    attr.kind == AttrKind::Tensor && attr.t.dtype() == DType::F32;
        if (float_constant) attr.t = to_half(attr.t, o_);
      }
    }
    for (const auto& out : node.outputs) {
      if (out.empty()) continue;
      auto orig = orig_types_.find(out);
      if (orig == orig_types_.end()) continue;
      types_[out] = orig->second == DType::F32 && !fp32 ? DType::F16 : orig->second;
    }
    if (node.op_type == "Identity" && types_.count(node.inputs.at(0))) types_[node.outputs.at(0)] = types_[node.inputs[0]];
    out_.nodes.push_back(std::move(node));
  }

  void convert_outputs() {
    for (auto info : in_.outputs) {
      const DType now = types_.count(info.name) ? types_[info.name] : info.dtype;
      if (info.dtype == DType::F32 && now == DType::F16) {
        if (o_.keep_io_types) restore_fp32_output(info.name);
        else info.dtype = DType::F16;
      }
      out_.outputs.push_back(std::move(info));
    }
  }

  // Renames the half-precision value and lets a final Cast produce the float32 output name.
  void restore_fp32_output(const std::string& name) {
    const std::string half = claim(used_, name + ".fp16");
    for (auto& n : out_.nodes) {
      for (auto& in : n.inputs)
        if (in == name) in = half;
      for (auto& out : n.outputs)
        if (out == name) out = half;
    }
    for (auto& [key, value] : cast_cache_)
      if (value == name) value = half;
    types_[half] = DType::F16;
    Node cast;
    cast.name = claim(node_names_, name + ".to_fp32");
    cast.op_type = "Cast";
    cast.inputs = {half};
    cast.outputs = {name};
    cast.attributes = {Attribute::make_int("to", kOnnxFloat)};
    cast.keep_fp32 = true;
    types_[name] = DType::F32;
    out_.nodes.push_back(std::move(cast));
  }

  const Graph& in_;
  const Fp16Options& o_;
  std::map<std::string, DType> orig_types_;
  std::map<std::string, DType> types_;  // element types after conversion
  std::vector<bool> node_fp32_;
  std::set<std::string> used_, node_names_, initializer_names_;
  std::map<std::pair<std::string, DType>, std::string> cast_cache_;
  Graph out_;
};

}  // namespace

Graph convert_to_fp16(const Graph& graph, const Fp16Options& options) {
  validate(graph);
  return Fp16Converter(graph, options).run();
}

}  // namespace medport::graph
