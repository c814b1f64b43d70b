// VJP of Resize (nearest and linear): both are separable linear maps, so along each resized axis
// the forward is y = M x with a constant [out, in] matrix built from ONNX's coordinate rules, and
// the gradient is M^T g, applied as a MatMul with that axis moved last. Exact at the borders and
// for any scale, but it needs static input and output sizes on the resized axes.
#include <algorithm>
#include <cmath>

#include "autodiff_internal.hpp"

namespace medport::graph::autodiff {

namespace {

using Grads = std::vector<Value>;

float source_coordinate(const std::string& mode, std::int64_t i, float scale, std::int64_t in, std::int64_t out) {
  const float fi = static_cast<float>(i);
  if (mode == "half_pixel") return (fi + 0.5f) / scale - 0.5f;
  if (mode == "pytorch_half_pixel") return out > 1 ? (fi + 0.5f) / scale - 0.5f : 0.0f;
  if (mode == "align_corners") return out == 1 ? 0.0f : fi * static_cast<float>(in - 1) / static_cast<float>(out - 1);
  if (mode == "asymmetric") return fi / scale;
  if (mode == "tf_half_pixel_for_nn") return (fi + 0.5f) / scale;
  return std::nanf("");
}

std::int64_t nearest_index(const std::string& rounding, float x) {
  if (rounding == "floor") return static_cast<std::int64_t>(std::floor(x));
  if (rounding == "ceil") return static_cast<std::int64_t>(std::ceil(x));
  const float f = std::floor(x);
  const bool half = x - f == 0.5f;
  if (rounding == "round_prefer_ceil") return static_cast<std::int64_t>(half ? f + 1 : std::round(x));
  return static_cast<std::int64_t>(half ? f : std::round(x));  // round_prefer_floor
}

// Row-major [out, in] interpolation matrix of one axis.
std::vector<float> axis_matrix(VjpContext& c, const std::string& mode, std::int64_t in, std::int64_t out, float scale) {
  const std::string coords = c.string_attr("coordinate_transformation_mode", "half_pixel");
  const std::string rounding = c.string_attr("nearest_mode", "round_prefer_floor");
  std::vector<float> m(static_cast<std::size_t>(in * out), 0.0f);
  auto at = [&](std::int64_t o, std::int64_t i) -> float& { return m[static_cast<std::size_t>(o * in + i)]; };
  for (std::int64_t o = 0; o < out; ++o) {
    float x = source_coordinate(coords, o, scale, in, out);
    if (std::isnan(x)) c.unsupported("coordinate_transformation_mode " + coords + " is not differentiable here");
    if (mode == "nearest") {
      at(o, std::clamp<std::int64_t>(nearest_index(rounding, x), 0, in - 1)) += 1.0f;
      continue;
    }
    x = std::clamp(x, 0.0f, static_cast<float>(in - 1));
    const auto i0 = static_cast<std::int64_t>(std::floor(x));
    const std::int64_t i1 = std::min(i0 + 1, in - 1);
    const float w1 = x - static_cast<float>(i0);
    at(o, i0) += 1.0f - w1;
    at(o, i1) += w1;
  }
  return m;
}

Grads resize_vjp(VjpContext& c) {
  const std::string mode = c.string_attr("mode", "nearest");
  if (mode != "nearest" && mode != "linear") c.unsupported("mode " + mode + " is not differentiable here");
  const auto xs = c.shape_of(c.inputs[0]);
  const auto ys = c.shape_of(c.outputs[0]);
  if (!xs || !ys) c.unsupported("needs static input and output shapes");
  std::optional<std::vector<float>> scales;
  if (c.inputs.size() > 2 && c.inputs[2].valid()) {
    scales = c.const_floats(2);
    if (scales && scales->empty()) scales.reset();
  }
  const auto rank = static_cast<std::int64_t>(xs->size());
  Builder& b = c.b;
  Value g = c.output_grads.at(0);
  for (std::int64_t axis = 0; axis < rank; ++axis) {
    const std::int64_t in = (*xs)[static_cast<std::size_t>(axis)], out = (*ys)[static_cast<std::size_t>(axis)];
    const float scale = scales ? (*scales)[static_cast<std::size_t>(axis)]
                               : static_cast<float>(out) / static_cast<float>(std::max<std::int64_t>(in, 1));
    if (in == out && scale == 1.0f) continue;
    if (in < 0 || out < 0) c.unsupported("the resized axis " + std::to_string(axis) + " has no static size");
    Value m = b.const_f32(axis_matrix(c, mode, in, out, scale), {out, in}, "interpolation");
    if (g.dtype() != DType::F32) m = b.cast(m, g.dtype(), "interpolation_cast");
    std::vector<std::int64_t> perm;
    for (std::int64_t i = 0; i < rank; ++i)
      if (i != axis) perm.push_back(i);
    perm.push_back(axis);
    std::vector<std::int64_t> back(static_cast<std::size_t>(rank));
    for (std::size_t i = 0; i < perm.size(); ++i) back[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
    const Value moved = axis == rank - 1 ? g : b.transpose(g, perm, "axis_last");
    const Value summed = b.matmul(moved, m, "adjoint");
    g = axis == rank - 1 ? summed : b.transpose(summed, back, "axis_back");
  }
  return {g};
}

}  // namespace

void add_resize_vjps(std::map<std::string, Vjp>& t) { t["Resize"] = resize_vjp; }

}  // namespace medport::graph::autodiff
