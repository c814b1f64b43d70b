// Shapes and layout as MIL ops: constant targets when the shapes are static (the usual case
// after folding), MIL's own shape arithmetic otherwise.
#include <algorithm>
#include <limits>

#include "export/coreml/mil_ops.hpp"

namespace medport::coreml::mil_ops {

namespace {

using Inputs = std::vector<std::pair<std::string, MilArg>>;

bool fully_known(const std::vector<std::int64_t>& shape) {
  return std::none_of(shape.begin(), shape.end(), [](std::int64_t d) { return d < 0; });
}

std::vector<std::int64_t> axes_of(MilTranslator& t, std::size_t input, const char* attr) {
  auto axes = t.attr_ints(attr);
  if (axes.empty() && t.has_input(input)) axes = t.const_ints(input, "axes");
  return axes;
}

}  // namespace

void reshape(MilTranslator& t, const Node&) {
  const auto out = t.out_shape();
  const MilVar x = t.in(0);
  if (fully_known(out)) {
    t.emit("reshape", {{"x", x}, {"shape", t.b().ints(out, t.tmp("shape"))}});
    return;
  }
  if (auto target = t.constant(1)) {
    auto dims = t.const_ints(1, "shape");
    const auto in = t.shape_of(0);
    for (std::size_t i = 0; i < dims.size(); ++i) {
      if (dims[i] != 0 || t.attr_i("allowzero", 0) != 0) continue;
      if (i >= in.size() || in[i] < 0) t.unsupported("a reshape copying a flexible dim (0)");
      dims[i] = in[i];
    }
    t.emit("reshape", {{"x", x}, {"shape", t.b().ints(dims, t.tmp("shape"))}});
    return;
  }
  t.emit("reshape", {{"x", x}, {"shape", t.in_as(1, mil::INT32)}});
}

void flatten(MilTranslator& t, const Node&) {
  const auto out = t.out_shape();
  const auto in = t.shape_of(0);
  const std::int64_t axis = norm_axis(t.attr_i("axis", 1), static_cast<std::int64_t>(in.size()));
  std::vector<std::int64_t> target = out;
  if (!fully_known(out)) {
    std::int64_t lead = 1;
    for (std::int64_t i = 0; i < axis; ++i) lead = in[static_cast<std::size_t>(i)] < 0 ? -1 : lead * in[static_cast<std::size_t>(i)];
    if (lead < 0) t.unsupported("flattening flexible leading dims");
    target = {lead, -1};
  }
  t.emit("reshape", {{"x", t.in(0)}, {"shape", t.b().ints(target, t.tmp("shape"))}});
}

void transpose(MilTranslator& t, const Node& n) {
  const auto rank = static_cast<std::int64_t>(t.shape_of(0).size());
  std::vector<std::int64_t> perm = t.attr_ints("perm");
  if (perm.empty())
    for (std::int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  // A constant 2-D weight transposed only for MatMul: the MatMul handler reads it as stored.
  if (t.graph().is_constant(n.inputs[0]) && rank == 2 && perm == std::vector<std::int64_t>{1, 0}) {
    const auto& uses = t.graph().uses.at(n.outputs[0]);
    const bool only_matmul = std::all_of(uses.begin(), uses.end(), [](const auto& u) {
      return u.first->op_type == "MatMul" && u.second == 1;
    });
    if (only_matmul && !t.graph().is_graph_output(n.outputs[0])) {
      t.defer();
      return;
    }
  }
  t.emit("transpose", {{"x", t.in(0)}, {"perm", t.b().ints(perm, t.tmp("perm"))}});
}

void concat(MilTranslator& t, const Node& n) {
  std::vector<MilVar> values;
  MilDType dtype = t.out_dtype();
  for (std::size_t i = 0; i < n.inputs.size(); ++i) values.push_back(t.in_as(i, dtype));
  t.emit("concat", {{"values", values},
                    {"axis", t.b().scalar_i(t.attr_i("axis", 0), t.tmp("axis"))},
                    {"interleave", t.b().scalar_b(false, t.tmp("interleave"))}});
}

void split(MilTranslator& t, const Node& n) {
  const auto in = t.shape_of(0);
  const std::int64_t axis = norm_axis(t.attr_i("axis", 0), static_cast<std::int64_t>(in.size()));
  std::vector<std::int64_t> sizes = t.attr_ints("split");
  if (sizes.empty() && t.has_input(1)) sizes = t.const_ints(1, "split sizes");
  Inputs ins{{"x", t.in(0)}, {"axis", t.b().scalar_i(axis, t.tmp("axis"))}};
  if (sizes.empty()) {
    ins.emplace_back("num_splits", t.b().scalar_i(static_cast<std::int64_t>(n.outputs.size()), t.tmp("num_splits")));
  } else {
    ins.emplace_back("split_sizes", t.b().ints(sizes, t.tmp("split_sizes")));
  }
  std::vector<MilVar> outs;
  for (std::size_t i = 0; i < n.outputs.size(); ++i) outs.push_back(MilVar{t.out_name(i), t.out_dtype(i), t.out_shape(i)});
  outs = t.b().op_n("split", ins, outs);
  for (std::size_t i = 0; i < outs.size(); ++i) t.set_out(outs[i], i);
}

void slice(MilTranslator& t, const Node&) {
  const auto in = t.shape_of(0);
  const auto rank = static_cast<std::int64_t>(in.size());
  const auto starts = t.const_ints(1, "slice starts");
  const auto ends = t.const_ints(2, "slice ends");
  std::vector<std::int64_t> axes = t.has_input(3) ? t.const_ints(3, "slice axes") : std::vector<std::int64_t>{};
  if (axes.empty())
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  std::vector<std::int64_t> steps = t.has_input(4) ? t.const_ints(4, "slice steps") : std::vector<std::int64_t>{};
  std::vector<std::int64_t> begin(static_cast<std::size_t>(rank), 0), end(static_cast<std::size_t>(rank), 0),
      stride(static_cast<std::size_t>(rank), 1);
  std::vector<bool> begin_mask(static_cast<std::size_t>(rank), true), end_mask(static_cast<std::size_t>(rank), true);
  for (std::size_t k = 0; k < axes.size(); ++k) {
    const auto a = static_cast<std::size_t>(norm_axis(axes[k], rank));
    const std::int64_t step = steps.empty() ? 1 : steps[k];
    const std::int64_t dim = in[a];
    std::int64_t s = starts[k], e = ends[k];
    if (dim >= 0) {
      // ONNX clamping: starts to [0, dim] ([0, dim-1] for negative steps), ends to [-1, dim].
      if (s < 0) s += dim;
      if (e < 0 && e > std::numeric_limits<std::int64_t>::min() / 2) e += dim;
      if (step > 0) {
        s = std::clamp<std::int64_t>(s, 0, dim);
        e = std::clamp<std::int64_t>(e, 0, dim);
      } else {
        s = std::clamp<std::int64_t>(s, 0, dim - 1);
        e = std::clamp<std::int64_t>(e, -1, dim - 1);
      }
      begin[a] = s;
      begin_mask[a] = false;
      if (step < 0 && e < 0) {
        end_mask[a] = true;  // down to and including index 0
      } else {
        end[a] = e;
        end_mask[a] = false;
      }
    } else {
      if (step != 1) t.unsupported("a strided slice of a flexible dim");
      begin[a] = s;
      begin_mask[a] = false;
      if (e < std::numeric_limits<std::int32_t>::max()) {
        end[a] = e;
        end_mask[a] = false;
      }
    }
    stride[a] = step;
  }
  t.emit("slice_by_index", {{"x", t.in(0)},
                            {"begin", t.b().ints(begin, t.tmp("begin"))},
                            {"end", t.b().ints(end, t.tmp("end"))},
                            {"stride", t.b().ints(stride, t.tmp("stride"))},
                            {"begin_mask", t.b().bools(begin_mask, t.tmp("begin_mask"))},
                            {"end_mask", t.b().bools(end_mask, t.tmp("end_mask"))}});
}

void squeeze(MilTranslator& t, const Node&) {
  const auto axes = axes_of(t, 1, "axes");
  Inputs ins{{"x", t.in(0)}};
  if (!axes.empty()) ins.emplace_back("axes", t.b().ints(axes, t.tmp("axes")));
  t.emit("squeeze", ins);
}

void unsqueeze(MilTranslator& t, const Node&) {
  t.emit("expand_dims", {{"x", t.in(0)}, {"axes", t.b().ints(axes_of(t, 1, "axes"), t.tmp("axes"))}});
}

void gather(MilTranslator& t, const Node&) {
  const auto in = t.shape_of(0);
  const std::int64_t axis = norm_axis(t.attr_i("axis", 0), static_cast<std::int64_t>(in.size()));
  MilVar indices;
  if (auto c = t.constant(1)) {
    // Negative indices counted from the end (MIL's gather wants them in range).
    Tensor idx = c->to(DType::I64);
    std::vector<std::int64_t> values(idx.data<std::int64_t>(), idx.data<std::int64_t>() + idx.numel());
    const std::int64_t dim = in[static_cast<std::size_t>(axis)];
    for (auto& v : values) {
      if (v < 0 && dim < 0) t.unsupported("a negative gather index on a flexible dim");
      if (v < 0) v += dim;
    }
    indices = t.b().constant(Tensor::from_bytes(DType::I64, idx.shape(), std::as_bytes(std::span(values))), mil::INT32,
                             t.tmp("indices"));
  } else {
    indices = t.in_as(1, mil::INT32);
  }
  t.emit("gather", {{"x", t.in(0)}, {"indices", indices}, {"axis", t.b().scalar_i(axis, t.tmp("axis"))}});
}

void expand(MilTranslator& t, const Node&) {
  const auto out = t.out_shape();
  auto in = t.shape_of(0);
  if (!fully_known(out) || !fully_known(in)) t.unsupported("expanding a flexible shape");
  MilVar x = t.in(0);
  if (in.size() < out.size()) {
    std::vector<std::int64_t> padded(out.size() - in.size(), 1);
    padded.insert(padded.end(), in.begin(), in.end());
    x = t.b().op("reshape", {{"x", x}, {"shape", t.b().ints(padded, t.tmp("rank_up"))}}, t.tmp("ranked"), x.dtype,
                 padded);
    in = padded;
  }
  std::vector<std::int64_t> reps(out.size(), 1);
  bool any = false;
  for (std::size_t i = 0; i < out.size(); ++i) {
    reps[i] = in[i] == out[i] ? 1 : out[i];
    any = any || reps[i] != 1;
  }
  if (!any) {
    t.emit("identity", {{"x", x}});
    return;
  }
  t.emit("tile", {{"x", x}, {"reps", t.b().ints(reps, t.tmp("reps"))}});
}

void tile(MilTranslator& t, const Node&) {
  if (t.constant(1)) {
    t.emit("tile", {{"x", t.in(0)}, {"reps", t.b().ints(t.const_ints(1, "repeats"), t.tmp("reps"))}});
  } else {
    t.emit("tile", {{"x", t.in(0)}, {"reps", t.in_as(1, mil::INT32)}});
  }
}

void shape(MilTranslator& t, const Node&) {
  const auto in = t.shape_of(0);
  const auto rank = static_cast<std::int64_t>(in.size());
  const std::int64_t start = std::clamp<std::int64_t>(norm_axis(t.attr_i("start", 0), rank), 0, rank);
  const std::int64_t end = std::clamp<std::int64_t>(norm_axis(t.attr_i("end", rank), rank), 0, rank);
  if (start == 0 && end == rank) {
    t.emit("shape", {{"x", t.in(0)}});
    return;
  }
  const MilVar all = t.b().op("shape", {{"x", t.in(0)}}, t.tmp("shape"), mil::INT32, {rank});
  t.emit("slice_by_index", {{"x", all},
                            {"begin", t.b().ints({start}, t.tmp("begin"))},
                            {"end", t.b().ints({end}, t.tmp("end"))}});
}

void pad(MilTranslator& t, const Node&) {
  const auto rank = t.shape_of(0).size();
  auto pads = t.attr_ints("pads");
  if (pads.empty()) pads = t.const_ints(1, "pads");
  if (t.has_input(3)) t.unsupported("padding selected axes");
  const std::string mode = t.attr_s("mode", "constant");
  const double value = t.has_input(2) ? t.const_floats(2, "pad value").at(0) : 0.0;
  const MilVar x = t.in(0);
  t.emit("pad", {{"x", x},
                 {"pad", t.b().ints(mil_pads(pads, rank), t.tmp("pad"))},
                 {"mode", t.b().text(mode == "edge" ? "replicate" : mode, t.tmp("mode"))},
                 {"constant_val", t.b().scalar_f(value, x.dtype, t.tmp("constant_val"))}});
}

}  // namespace medport::coreml::mil_ops
