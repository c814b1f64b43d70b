// VJPs of shape manipulation, indexing and reductions.
#include <algorithm>

#include "autodiff_internal.hpp"

namespace medport::graph::autodiff {

namespace {

using Grads = std::vector<Value>;
using A = Attribute;

Value out_grad(VjpContext& c) { return c.output_grads.at(0); }

Value shape_of_input(VjpContext& c, std::size_t i) {
  return c.b.shape(c.inputs[i], std::nullopt, std::nullopt, "input_shape");
}

Grads reshape_back(VjpContext& c) { return {c.b.reshape(out_grad(c), shape_of_input(c, 0), "reshape_back")}; }

Grads transpose_vjp(VjpContext& c) {
  const auto perm = c.ints_attr("perm");
  if (!perm) return {c.b.op1("Transpose", {out_grad(c)}, {}, "transpose_back")};  // reversal is its own inverse
  std::vector<std::int64_t> inverse(perm->size());
  for (std::size_t i = 0; i < perm->size(); ++i) inverse[static_cast<std::size_t>((*perm)[i])] = static_cast<std::int64_t>(i);
  return {c.b.transpose(out_grad(c), inverse, "transpose_back")};
}

Grads concat_vjp(VjpContext& c) {
  const std::int64_t axis = c.int_attr("axis", 0);
  std::vector<std::int64_t> sizes;
  for (const auto& in : c.inputs) {
    const auto s = c.shape_of(in);
    const auto r = s ? static_cast<std::int64_t>(s->size()) : 0;
    sizes.push_back(s ? (*s)[static_cast<std::size_t>(normalize_axis(axis, r))] : -1);
  }
  std::vector<Value> parts;
  if (std::all_of(sizes.begin(), sizes.end(), [](auto d) { return d >= 0; })) {
    parts = c.b.split(out_grad(c), axis, sizes, "split_grad");
  } else {
    std::vector<Value> dyn;
    for (const auto& in : c.inputs)
      dyn.push_back(c.b.gather(c.b.shape(in, std::nullopt, std::nullopt, "part_shape"), c.b.const_i64({axis}, "axis"), 0,
                               "part_size"));
    parts = c.b.op("Split", {out_grad(c), c.b.concat(dyn, 0, "part_sizes")}, {A::make_int("axis", axis)},
                   static_cast<int>(c.inputs.size()), "split_grad");
  }
  Grads r(c.inputs.size());
  for (std::size_t i = 0; i < r.size(); ++i)
    if (c.want(i)) r[i] = parts[i];
  return r;
}

Grads split_vjp(VjpContext& c) { return {c.b.concat(c.output_grads, c.int_attr("axis", 0), "concat_grad")}; }

// Slice with constant starts/ends/axes and unit steps: the gradient is zero-padded back.
Grads slice_vjp(VjpContext& c) {
  const auto starts = c.const_ints(1);
  const auto ends = c.const_ints(2);
  if (!starts || !ends) c.unsupported("starts/ends must be constant initializers");
  const std::int64_t rank = c.rank_of(c.inputs[0]);
  std::vector<std::int64_t> axes;
  if (c.inputs.size() > 3 && c.inputs[3].valid()) {
    const auto a = c.const_ints(3);
    if (!a) c.unsupported("axes must be a constant initializer");
    axes = *a;
  } else {
    for (std::size_t i = 0; i < starts->size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  }
  if (c.inputs.size() > 4 && c.inputs[4].valid()) {
    const auto steps = c.const_ints(4);
    if (!steps || std::any_of(steps->begin(), steps->end(), [](auto s) { return s != 1; }))
      c.unsupported("only constant unit steps are differentiable");
  }
  const auto xs = c.shape_of(c.inputs[0]);
  std::vector<std::int64_t> begins(static_cast<std::size_t>(rank), 0);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const auto ax = static_cast<std::size_t>(normalize_axis(axes[i], rank));
    std::int64_t s = (*starts)[i];
    const std::int64_t dim = xs ? (*xs)[ax] : -1;
    if (s < 0) {
      if (dim < 0) c.unsupported("a negative start needs a static dim");
      s = std::max<std::int64_t>(0, s + dim);
    }
    if (dim >= 0) s = std::min(s, dim);
    begins[ax] = s;
  }
  const Value begin_pads = c.b.const_i64(begins, "begin_pads");
  const Value end_pads = c.b.sub(c.b.sub(shape_of_input(c, 0), c.b.shape(out_grad(c), std::nullopt, std::nullopt, "grad_shape"),
                                         "size_diff"),
                                 begin_pads, "end_pads");
  const Value pads = c.b.concat({begin_pads, end_pads}, 0, "pads");
  return {c.b.op1("Pad", {out_grad(c), pads}, {}, "pad_back")};
}

// Gather with scalar or 1-D indices: scatter-add the gradient into zeros.
Grads gather_vjp(VjpContext& c) {
  const std::int64_t rank = c.rank_of(c.inputs[0]);
  const std::int64_t axis = normalize_axis(c.int_attr("axis", 0), rank);
  const std::int64_t index_rank = c.rank_of(c.inputs[1]);
  Value g = out_grad(c);
  Value idx = c.inputs[1];
  if (index_rank == 0) {
    g = c.b.unsqueeze(g, {axis}, "unsqueeze_grad");
    idx = c.b.reshape(idx, std::vector<std::int64_t>{1}, "index_1d");
  } else if (index_rank != 1) {
    c.unsupported("only scalar or 1-D indices are differentiable");
  }
  std::vector<std::int64_t> view(static_cast<std::size_t>(rank), 1);
  view[static_cast<std::size_t>(axis)] = -1;
  idx = c.b.reshape(idx, view, "index_view");
  idx = c.b.expand(idx, c.b.shape(g, std::nullopt, std::nullopt, "grad_shape"), "index_full");
  const Value zeros = zeros_like(c.b, c.inputs[0], "zeros");
  return {c.b.op1("ScatterElements", {zeros, idx, g},
                  {A::make_int("axis", axis), A::make_string("reduction", "add")}, "scatter_add")};
}

Grads expand_vjp(VjpContext& c) { return {unbroadcast(c, out_grad(c), c.inputs[0], c.shape_of(c.outputs[0]))}; }

// Tile: view the gradient as [r0, d0, r1, d1, ...] and sum the repeat axes.
Grads tile_vjp(VjpContext& c) {
  const auto repeats = c.const_ints(1);
  if (!repeats) c.unsupported("repeats must be a constant initializer");
  const Value xs = shape_of_input(c, 0);
  std::vector<Value> view;
  std::vector<std::int64_t> repeat_axes;
  for (std::size_t i = 0; i < repeats->size(); ++i) {
    view.push_back(c.b.const_i64({(*repeats)[i]}, "repeat"));
    view.push_back(gather_dims(c.b, xs, {static_cast<std::int64_t>(i)}));
    repeat_axes.push_back(static_cast<std::int64_t>(2 * i));
  }
  const Value g = c.b.reshape(out_grad(c), c.b.concat(view, 0, "tile_view"), "tile_view");
  return {c.b.reduce_sum(g, repeat_axes, false, "sum_repeats")};
}

std::vector<std::int64_t> reduce_axes(VjpContext& c, bool& found) {
  found = true;
  if (auto a = c.ints_attr("axes")) return *a;
  if (c.inputs.size() > 1 && c.inputs[1].valid()) {
    if (auto a = c.const_ints(1)) return *a;
    c.unsupported("axes must be a constant initializer");
  }
  found = false;
  return {};
}

Grads reduce_vjp(VjpContext& c, bool mean) {
  bool found = false;
  auto axes = reduce_axes(c, found);
  const bool keepdims = c.int_attr("keepdims", 1) != 0;
  if (!found && c.int_attr("noop_with_empty_axes", 0) != 0) return {out_grad(c)};
  Value g = out_grad(c);
  if (!keepdims && !axes.empty()) {
    const std::int64_t rank = c.rank_of(c.inputs[0]);
    for (auto& a : axes) a = normalize_axis(a, rank);
    std::sort(axes.begin(), axes.end());
    g = c.b.unsqueeze(g, axes, "keep_dims");
  }
  g = c.b.expand(g, shape_of_input(c, 0), "spread");
  if (mean) {
    const auto count_in = c.b.cast(c.b.op1("Size", {c.inputs[0]}, {}, "size_in"), g.dtype(), "size_in_f");
    const auto count_out = c.b.cast(c.b.op1("Size", {c.outputs[0]}, {}, "size_out"), g.dtype(), "size_out_f");
    g = c.b.div(c.b.mul(g, count_out), count_in, "mean_scale");
  }
  return {g};
}

}  // namespace

void add_shape_vjps(std::map<std::string, Vjp>& t) {
  t["Reshape"] = reshape_back;
  t["Flatten"] = reshape_back;
  t["Squeeze"] = reshape_back;
  t["Unsqueeze"] = reshape_back;
  t["Transpose"] = transpose_vjp;
  t["Concat"] = concat_vjp;
  t["Split"] = split_vjp;
  t["Slice"] = slice_vjp;
  t["Gather"] = gather_vjp;
  t["Expand"] = expand_vjp;
  t["Tile"] = tile_vjp;
  t["ReduceSum"] = [](VjpContext& c) { return reduce_vjp(c, false); };
  t["ReduceMean"] = [](VjpContext& c) { return reduce_vjp(c, true); };
}

}  // namespace medport::graph::autodiff
