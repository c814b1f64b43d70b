// VjpContext accessors and the gradient-building helpers shared by the VJP files.
#include <algorithm>
#include <cstring>

#include "autodiff_internal.hpp"
#include "medport/error.hpp"

namespace medport::graph::autodiff {

std::optional<std::vector<std::int64_t>> VjpContext::shape_of(const Value& v) const {
  const auto it = shapes.find(v.name());
  if (it == shapes.end()) return std::nullopt;
  return it->second;
}

std::int64_t VjpContext::rank_of(const Value& v) const {
  const auto s = shape_of(v);
  if (!s) unsupported("the rank of '" + v.name() + "' is unknown (give the graph inputs a shape)");
  return static_cast<std::int64_t>(s->size());
}

void VjpContext::unsupported(const std::string& why) const {
  throw UsageError("differentiate: " + node.op_type + " node '" + node.name + "': " + why);
}

std::optional<std::vector<std::int64_t>> VjpContext::const_ints(std::size_t input) const {
  if (input >= node.inputs.size() || node.inputs[input].empty()) return std::nullopt;
  const Initializer* init = forward.find_initializer(node.inputs[input]);
  if (init == nullptr) return std::nullopt;
  const Tensor& t = init->tensor;
  const auto bytes = t.contiguous_bytes();
  std::vector<std::int64_t> out(static_cast<std::size_t>(t.numel()));
  if (t.dtype() == DType::I64) {
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(std::int64_t));
  } else if (t.dtype() == DType::I32) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::int32_t v;
      std::memcpy(&v, bytes.data() + i * sizeof(v), sizeof(v));
      out[i] = v;
    }
  } else {
    return std::nullopt;
  }
  return out;
}

std::optional<std::vector<float>> VjpContext::const_floats(std::size_t input) const {
  if (input >= node.inputs.size() || node.inputs[input].empty()) return std::nullopt;
  const Initializer* init = forward.find_initializer(node.inputs[input]);
  if (init == nullptr || !(init->tensor.dtype() == DType::F32 || init->tensor.dtype() == DType::F64)) return std::nullopt;
  return init->tensor.to_f32();
}

std::int64_t VjpContext::int_attr(const std::string& name, std::int64_t fallback) const {
  return node.int_attribute(name).value_or(fallback);
}

float VjpContext::float_attr(const std::string& name, float fallback) const {
  const Attribute* a = node.find_attribute(name);
  return (a != nullptr && a->kind == AttrKind::Float) ? a->f : fallback;
}

std::string VjpContext::string_attr(const std::string& name, const std::string& fallback) const {
  const Attribute* a = node.find_attribute(name);
  return (a != nullptr && a->kind == AttrKind::String) ? a->s : fallback;
}

std::optional<std::vector<std::int64_t>> VjpContext::ints_attr(const std::string& name) const {
  const Attribute* a = node.find_attribute(name);
  if (a == nullptr || a->kind != AttrKind::Ints) return std::nullopt;
  return a->ints;
}

std::int64_t normalize_axis(std::int64_t axis, std::int64_t rank) { return axis < 0 ? axis + rank : axis; }

Value zeros_like(Builder& b, const Value& like, const std::string& hint) {
  return b.constant_of_shape(b.shape(like, std::nullopt, std::nullopt, hint + ".shape"), 0.0, like.dtype(), hint);
}

Value scalar_of(Builder& b, const Value& like, double value) { return b.scalar_like(like, value); }

Value gather_dims(Builder& b, const Value& shape, const std::vector<std::int64_t>& indices) {
  return b.gather(shape, b.const_i64(indices, "dims"), 0, "dims");
}

Value transpose_last2(Builder& b, const Value& x, std::int64_t rank) {
  std::vector<std::int64_t> perm;
  for (std::int64_t i = 0; i < rank; ++i) perm.push_back(i);
  std::swap(perm[static_cast<std::size_t>(rank - 1)], perm[static_cast<std::size_t>(rank - 2)]);
  return b.transpose(x, perm, "transpose_last2");
}

Value unbroadcast(VjpContext& c, const Value& grad, const Value& target,
                  const std::optional<std::vector<std::int64_t>>& grad_shape) {
  Builder& b = c.b;
  const auto ts = c.shape_of(target);
  const auto& out_shape = grad_shape;
  // Static route: the broadcast result's shape (the node output) and the target's are known.
  if (ts && out_shape) {
    const auto& t = *ts;
    const auto& o = *out_shape;
    const bool known = std::all_of(t.begin(), t.end(), [](auto d) { return d >= 0; }) &&
                       std::all_of(o.begin(), o.end(), [](auto d) { return d >= 0; });
    if (known && o.size() >= t.size()) {
      const std::size_t lead = o.size() - t.size();
      std::vector<std::int64_t> axes;
      for (std::size_t i = 0; i < o.size(); ++i)
        if (i < lead || (t[i - lead] == 1 && o[i] != 1)) axes.push_back(static_cast<std::int64_t>(i));
      if (axes.empty()) return grad;
      Value r = b.reduce_sum(grad, axes, true, "unbroadcast");
      return b.reshape(r, t, "unbroadcast_shape");
    }
  }
  // Dynamic route: pad the target's shape with leading ones, reduce where it is 1.
  const Value sg = b.shape(grad, std::nullopt, std::nullopt, "grad_shape");
  const Value st = b.shape(target, std::nullopt, std::nullopt, "target_shape");
  const Value rank_diff = b.sub(b.shape(sg, std::nullopt, std::nullopt, "grad_rank"),
                                b.shape(st, std::nullopt, std::nullopt, "target_rank"), "rank_diff");
  const Value ones = b.constant_of_shape(rank_diff, 1.0, DType::I64, "leading_ones");
  const Value padded = b.concat({ones, st}, 0, "padded_shape");
  const Value is_one = b.equal(padded, b.const_i64({1}, "one"), "is_one");
  const Value axes = b.reshape(b.op1("NonZero", {is_one}, {}, "broadcast_axes"), std::vector<std::int64_t>{-1},
                               "broadcast_axes_1d");
  const Value reduced = b.op1("ReduceSum", {grad, axes},
                              {Attribute::make_int("keepdims", 1), Attribute::make_int("noop_with_empty_axes", 1)},
                              "unbroadcast");
  return b.reshape(reduced, st, "unbroadcast_shape");
}

}  // namespace medport::graph::autodiff
