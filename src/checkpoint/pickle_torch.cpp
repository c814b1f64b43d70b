// torch's tensor and parameter rebuild functions and torch.device, emulated on Values. A tensor
// only records its view of a storage here; the checkpoint loader binds it to the bytes.
#include "medport/error.hpp"
#include "pickle_internal.hpp"

namespace medport::ckpt::detail {
namespace {

ValuePtr rebuild_tensor(const std::vector<ValuePtr>& a, bool v2, const GlobalRef& g, PickleContext& ctx) {
  expect_count(a, 4, v2 ? 7 : 4, g, ctx);
  if (v2) expect_count(a, 6, 7, g, ctx);
  refuse_foreign_dependencies(a, ctx);
  if (!a[0]->is(ValueKind::Storage)) ctx.fail(g.qualified() + ": expected a torch storage, got " + a[0]->type_name());
  TensorData t;
  t.storage = a[0];
  t.offset = int_arg(a[1], "storage offset", g, ctx);
  t.shape = int_sequence(a[2], "size", g, ctx);
  t.strides = int_sequence(a[3], "stride", g, ctx);
  if (t.shape.size() != t.strides.size())
    ctx.fail(g.qualified() + ": size has " + std::to_string(t.shape.size()) + " dimensions but stride has " +
             std::to_string(t.strides.size()));
  if (t.offset < 0) ctx.fail(g.qualified() + ": negative storage offset");
  for (auto d : t.shape)
    if (d < 0) ctx.fail(g.qualified() + ": negative dimension in size " + shape_string(t.shape));
  if (v2) {
    if (!a[4]->is(ValueKind::Bool)) ctx.fail(g.qualified() + ": requires_grad must be a bool");
    t.requires_grad = a[4]->as_bool();
    if (!a[5]->is_none() && !(a[5]->is(ValueKind::Dict) && a[5]->size() == 0))
      ctx.fail(g.qualified() + ": tensors with backward hooks are not supported");
  }
  return Value::tensor(std::move(t));
}

ValuePtr as_parameter(const ValuePtr& data, bool requires_grad, const GlobalRef& g, PickleContext& ctx) {
  if (!data->is(ValueKind::Tensor)) ctx.fail(g.qualified() + ": expected a tensor, got " + data->type_name());
  TensorData t = data->tensor_data();
  t.requires_grad = requires_grad;
  t.is_parameter = true;
  return Value::tensor(std::move(t));
}

ValuePtr rebuild_parameter(const std::vector<ValuePtr>& a, bool with_state, const GlobalRef& g, PickleContext& ctx) {
  expect_count(a, with_state ? 4 : 3, with_state ? 4 : 3, g, ctx);
  refuse_foreign_dependencies(a, ctx);
  if (!a[1]->is(ValueKind::Bool)) ctx.fail(g.qualified() + ": requires_grad must be a bool");
  if (!a[2]->is_none() && !(a[2]->is(ValueKind::Dict) && a[2]->size() == 0))
    ctx.fail(g.qualified() + ": parameters with backward hooks are not supported");
  return as_parameter(a[0], a[1]->as_bool(), g, ctx);
}

ValuePtr rebuild_from_type(const std::vector<ValuePtr>& a, const GlobalRef& g, PickleContext& ctx) {
  expect_count(a, 4, 4, g, ctx);
  if (!a[0]->is(ValueKind::Global)) ctx.fail(g.qualified() + ": the rebuild function must be a global");
  const GlobalRef& func = a[0]->global_ref();
  if (func.builtin != kRebuildTensor && func.builtin != kRebuildTensorV2 && func.builtin != kRebuildParameter &&
      func.builtin != kRebuildParameterWithState)
    ctx.refuse_tensor_dependency(func.qualified());
  if (!a[1]->is(ValueKind::Global)) ctx.fail(g.qualified() + ": the tensor type must be a global");
  const GlobalRef& type = a[1]->global_ref();
  if (type.builtin != kTensorClass && type.builtin != kParameter) ctx.refuse_tensor_dependency(type.qualified());
  refuse_foreign_dependencies({a[3]}, ctx);
  ValuePtr result = call_global(a[0], a[2], ctx);
  if (!result->is(ValueKind::Tensor)) ctx.fail(g.qualified() + ": the rebuild function did not produce a tensor");
  if (type.builtin == kParameter) result = as_parameter(result, result->tensor_data().requires_grad, g, ctx);
  return result;
}

ValuePtr torch_device(const std::vector<ValuePtr>& a, const GlobalRef& g, PickleContext& ctx) {
  expect_count(a, 1, 2, g, ctx);
  if (!a[0]->is(ValueKind::Str)) ctx.fail(g.qualified() + ": device type must be a str");
  std::string text = a[0]->as_str();
  if (a.size() == 2 && !a[1]->is_none()) text += ":" + std::to_string(int_arg(a[1], "device index", g, ctx));
  return Value::device(std::move(text));
}

}  // namespace

ValuePtr call_torch_builtin(const GlobalRef& g, const std::vector<ValuePtr>& a, PickleContext& ctx) {
  switch (g.builtin) {
    case kRebuildTensor: return rebuild_tensor(a, false, g, ctx);
    case kRebuildTensorV2: return rebuild_tensor(a, true, g, ctx);
    case kRebuildParameter: return rebuild_parameter(a, false, g, ctx);
    case kRebuildParameterWithState: return rebuild_parameter(a, true, g, ctx);
    case kRebuildFromTypeV2: return rebuild_from_type(a, g, ctx);
    case kParameter:
      expect_count(a, 0, 2, g, ctx);
      if (a.empty()) ctx.fail(g.qualified() + ": a parameter without data is not supported");
      return as_parameter(a[0], a.size() < 2 || truthy(*a[1]), g, ctx);
    case kTorchSize: {
      expect_count(a, 0, 1, g, ctx);
      if (a.empty()) return Value::tuple();
      int_sequence(a[0], "size", g, ctx);  // validates the elements
      return Value::tuple(iterable_items(a[0], g, ctx));
    }
    case kTorchDevice: return torch_device(a, g, ctx);
    default: ctx.refuse_call(g.qualified());
  }
}

}  // namespace medport::ckpt::detail
