// Builder core: naming scopes, graph inputs/outputs, constants and the generic node factory.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "builder_state.hpp"
#include "medport/error.hpp"

namespace medport::graph {

namespace {

template <class T>
Tensor one_value_tensor(DType dtype, T value) {
  std::byte bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  return Tensor::from_bytes(dtype, {}, std::span<const std::byte>(bytes, sizeof(T)));
}

std::string default_hint(const std::string& op_type) {
  std::string out;
  for (std::size_t i = 0; i < op_type.size(); ++i) {
    const char c = op_type[i];
    if (c >= 'A' && c <= 'Z') {
      if (i > 0) out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

Tensor scalar_tensor(double value, DType dtype) {
  switch (dtype) {
    case DType::F32: return one_value_tensor(dtype, static_cast<float>(value));
    case DType::F64: return one_value_tensor(dtype, value);
    case DType::F16: return one_value_tensor(dtype, float_to_half(static_cast<float>(value)));
    case DType::BF16: return one_value_tensor(dtype, float_to_bfloat16(static_cast<float>(value)));
    case DType::I64: return one_value_tensor(dtype, static_cast<std::int64_t>(value));
    case DType::I32: return one_value_tensor(dtype, static_cast<std::int32_t>(value));
    case DType::I16: return one_value_tensor(dtype, static_cast<std::int16_t>(value));
    case DType::I8: return one_value_tensor(dtype, static_cast<std::int8_t>(value));
    case DType::U8: return one_value_tensor(dtype, static_cast<std::uint8_t>(value));
    case DType::U16: return one_value_tensor(dtype, static_cast<std::uint16_t>(value));
    case DType::Bool: return one_value_tensor(dtype, static_cast<std::uint8_t>(value != 0.0 ? 1 : 0));
  }
  throw std::logic_error("unknown dtype");
}

Tensor i64_tensor(const std::vector<std::int64_t>& values) {
  return Tensor::from_bytes(DType::I64, {static_cast<std::int64_t>(values.size())},
                            std::as_bytes(std::span(values.data(), values.size())));
}

std::vector<std::int64_t> symmetric_pads(const std::vector<std::int64_t>& per_axis) {
  std::vector<std::int64_t> pads(per_axis);
  pads.insert(pads.end(), per_axis.begin(), per_axis.end());
  return pads;
}

// ---- State ------------------------------------------------------------------------------

std::string Builder::State::prefixed(std::string_view hint) const {
  std::string name;
  for (const auto& s : scopes) {
    if (!name.empty()) name += '.';
    name += s;
  }
  if (!hint.empty()) {
    if (!name.empty()) name += '.';
    name += hint;
  }
  return name;
}

std::string Builder::State::claim(std::set<std::string>& used, const std::string& base) {
  const std::string stem = base.empty() ? std::string("node") : base;
  std::string name = stem;
  for (int i = 1; used.count(name); ++i) name = stem + "_" + std::to_string(i);
  used.insert(name);
  return name;
}

std::string Builder::State::resolve(const std::string& name) const {
  std::string current = name;
  for (auto it = renamed.find(current); it != renamed.end(); it = renamed.find(current)) current = it->second;
  return current;
}

bool Builder::State::is_internal_value(const std::string& name) const {
  if (initializer_index.count(name)) return false;
  for (const auto& in : graph.inputs)
    if (in.name == name) return false;
  for (const auto& out : graph.outputs)
    if (out.name == name) return false;
  return graph.find_producer(name) != nullptr;
}

// Handles the caller still holds on the old name keep working through `renamed`.
void Builder::State::rename_internal_value(const std::string& name) {
  const std::string fresh = claim(value_names, name);
  for (auto& node : graph.nodes) {
    std::replace(node.inputs.begin(), node.inputs.end(), name, fresh);
    std::replace(node.outputs.begin(), node.outputs.end(), name, fresh);
  }
  for (auto& [out, source] : output_sources)
    if (source == name) source = fresh;
  dtypes[fresh] = dtypes.at(name);
  renamed[name] = fresh;
}

const Tensor* Builder::State::initializer_tensor(const std::string& name) const {
  auto it = initializer_index.find(name);
  return it == initializer_index.end() ? nullptr : &graph.initializers[it->second].tensor;
}

// ---- construction -----------------------------------------------------------------------

Builder::Builder(std::string graph_name, int opset) : state_(std::make_unique<State>()) {
  if (opset < 13) throw UsageError("graph builder: opset " + std::to_string(opset) + " is too old (13 or newer)");
  state_->graph.name = std::move(graph_name);
  state_->graph.opset = opset;
}

Builder::Builder(Graph existing) : state_(std::make_unique<State>()) {
  if (existing.opset < 13)
    throw UsageError("graph builder: opset " + std::to_string(existing.opset) + " is too old (13 or newer)");
  State& s = *state_;
  s.dtypes = infer_dtypes(existing);
  for (const auto& in : existing.inputs) s.value_names.insert(in.name);
  for (std::size_t i = 0; i < existing.initializers.size(); ++i) {
    s.value_names.insert(existing.initializers[i].name);
    s.initializer_index[existing.initializers[i].name] = i;
  }
  for (const auto& node : existing.nodes) {
    s.node_names.insert(node.name);
    for (const auto& out : node.outputs) s.value_names.insert(out);
  }
  s.graph = std::move(existing);
}

Builder::~Builder() = default;
Builder::Builder(Builder&&) noexcept = default;
Builder& Builder::operator=(Builder&&) noexcept = default;

Builder::Scope::~Scope() {
  if (owner_ == nullptr || !owner_->state_) return;
  auto& scopes = owner_->state_->scopes;
  if (scopes.size() >= depth_) scopes.resize(depth_ - 1);
}
Builder::Scope::Scope(Scope&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), depth_(other.depth_) {}

Builder::Scope Builder::scope(std::string_view prefix) {
  state_->scopes.emplace_back(prefix);
  return Scope(this, state_->scopes.size());
}

Builder::Fp32Scope::~Fp32Scope() {
  if (owner_ != nullptr && owner_->state_ && owner_->state_->fp32_depth > 0) --owner_->state_->fp32_depth;
}
Builder::Fp32Scope::Fp32Scope(Fp32Scope&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}

Builder::Fp32Scope Builder::keep_fp32() {
  ++state_->fp32_depth;
  return Fp32Scope(this);
}

std::string Builder::prefix() const { return state_->prefixed({}); }

const Graph& Builder::graph() const { return state_->graph; }
int Builder::opset() const { return state_->graph.opset; }

Graph Builder::finish() && {
  validate(state_->graph);
  Graph out = std::move(state_->graph);
  state_ = std::make_unique<State>();
  return out;
}

// ---- graph interface --------------------------------------------------------------------

Value Builder::input(const std::string& name, DType dtype, Dims shape) {
  State& s = *state_;
  if (name.empty()) throw UsageError("graph input needs a name");
  if (s.value_names.count(name)) throw UsageError("graph input name '" + name + "' is already used");
  s.value_names.insert(name);
  s.dtypes[name] = dtype;
  s.graph.inputs.push_back({name, dtype, std::move(shape)});
  return Value(name, dtype);
}

void Builder::output(const Value& v, const std::string& name, std::optional<Dims> shape) {
  State& s = *state_;
  const std::string source = v.valid() ? s.resolve(v.name()) : std::string();
  if (source.empty() || !s.dtypes.count(source)) throw UsageError("graph output from an unknown value");
  std::string out_name = name.empty() ? source : name;
  for (const auto& o : s.graph.outputs)
    if (o.name == out_name) throw UsageError("graph output '" + out_name + "' is declared twice");
  if (out_name != source) {
    if (s.value_names.count(out_name)) {
      // An automatically named internal value gives its name up; anything else is a clash.
      if (!s.is_internal_value(out_name))
        throw UsageError("graph output name '" + out_name + "' is already used by an input or initializer");
      s.rename_internal_value(out_name);
    }
    Node node;
    node.name = State::claim(s.node_names, out_name);
    node.op_type = "Identity";
    node.inputs = {s.resolve(source)};
    node.outputs = {out_name};
    s.value_names.insert(out_name);
    s.dtypes[out_name] = v.dtype();
    s.output_sources[out_name] = s.resolve(source);
    s.graph.nodes.push_back(std::move(node));
  }
  s.graph.outputs.push_back({out_name, v.dtype(), std::move(shape)});
}

void Builder::set_metadata(const std::string& key, const std::string& value) {
  auto& props = state_->graph.metadata_props;
  auto it = std::find_if(props.begin(), props.end(), [&](const auto& p) { return p.first == key; });
  if (it != props.end()) it->second = value;
  else props.emplace_back(key, value);
}

void Builder::set_doc_string(const std::string& text) { state_->graph.doc_string = text; }

// ---- constants --------------------------------------------------------------------------

Value Builder::initializer(const std::string& name, Tensor tensor) {
  State& s = *state_;
  if (name.empty()) throw UsageError("initializer needs a name");
  if (!tensor.defined()) throw UsageError("initializer '" + name + "' has no tensor");
  const std::string final_name = State::claim(s.value_names, name);
  const DType dtype = tensor.dtype();
  s.initializer_index[final_name] = s.graph.initializers.size();
  s.graph.initializers.push_back({final_name, std::move(tensor)});
  s.dtypes[final_name] = dtype;
  return Value(final_name, dtype);
}

Value Builder::constant(Tensor tensor, std::string_view hint) {
  return initializer(state_->prefixed(hint.empty() ? std::string_view("const") : hint), std::move(tensor));
}

Value Builder::scalar(double value, DType dtype, std::string_view hint) {
  return constant(scalar_tensor(value, dtype), hint);
}

Value Builder::scalar_like(const Value& like, double value, std::string_view hint) {
  return scalar(value, like.dtype(), hint);
}

Value Builder::const_i64(const std::vector<std::int64_t>& values, std::string_view hint) {
  return constant(i64_tensor(values), hint);
}

Value Builder::const_f32(const std::vector<float>& values, Shape shape, std::string_view hint) {
  return constant(Tensor::from_f32(std::move(shape), values), hint);
}

Value Builder::value(const std::string& name) const {
  // A graph output made by an Identity stands for the value it copies (same data and type),
  // which keeps handles unambiguous when that output took over an internal value's name.
  auto source = state_->output_sources.find(name);
  const std::string& target = source != state_->output_sources.end() ? source->second : name;
  auto it = state_->dtypes.find(target);
  if (it == state_->dtypes.end()) throw UsageError("graph has no value named '" + name + "'");
  return Value(target, it->second);
}

// ---- generic node -----------------------------------------------------------------------

std::vector<Value> Builder::op(const std::string& op_type, const std::vector<Value>& inputs,
                               std::vector<Attribute> attributes, int num_outputs, std::string_view hint) {
  State& s = *state_;
  if (num_outputs < 1) throw UsageError(op_type + ": a node needs at least one output");
  Node node;
  node.op_type = op_type;
  const std::string hint_text = hint.empty() ? default_hint(op_type) : std::string(hint);
  std::vector<std::optional<DType>> in_types;
  for (const auto& in : inputs) {
    if (!in.valid()) {
      node.inputs.emplace_back();
      in_types.emplace_back();
      continue;
    }
    const std::string name = s.resolve(in.name());
    auto it = s.dtypes.find(name);
    if (it == s.dtypes.end())
      throw UsageError(op_type + " '" + s.prefixed(hint_text) + "': input '" + in.name() + "' is not in the graph");
    node.inputs.push_back(name);
    in_types.emplace_back(it->second);
  }
  // Drop trailing omitted inputs: ONNX treats them as absent either way.
  while (!node.inputs.empty() && node.inputs.back().empty()) {
    node.inputs.pop_back();
    in_types.pop_back();
  }
  node.name = s.claim_node(hint_text);
  if (num_outputs == 1) {
    node.outputs.push_back(State::claim(s.value_names, node.name));
  } else {
    for (int i = 0; i < num_outputs; ++i)
      node.outputs.push_back(State::claim(s.value_names, node.name + "." + std::to_string(i)));
  }
  node.attributes = std::move(attributes);
  node.keep_fp32 = s.fp32_depth > 0;
  const auto out_types = infer_output_dtypes(node, in_types);
  std::vector<Value> outs;
  for (std::size_t i = 0; i < node.outputs.size(); ++i) {
    const DType d = out_types[i].value_or(DType::F32);
    s.dtypes[node.outputs[i]] = d;
    outs.emplace_back(node.outputs[i], d);
  }
  s.graph.nodes.push_back(std::move(node));
  return outs;
}

Value Builder::op1(const std::string& op_type, const std::vector<Value>& inputs, std::vector<Attribute> attributes,
                   std::string_view hint) {
  return op(op_type, inputs, std::move(attributes), 1, hint).front();
}

}  // namespace medport::graph
