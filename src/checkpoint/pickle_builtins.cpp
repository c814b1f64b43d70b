// The allow-list: which globals a checkpoint pickle may "call", and the Python builtins and
// collections types emulated on Values (torch and numpy constructors live in their own files).
// Everything else is an inert Global; calling it is refused (inert record types excepted).
#include <array>
#include <cmath>
#include <unordered_map>

#include "medport/error.hpp"
#include "pickle_internal.hpp"

namespace medport::ckpt {

namespace {
constexpr std::array<std::string_view, 15> kInertRecordTypeNames{
    "argparse.Namespace",
    "types.SimpleNamespace",
    "pathlib.Path",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
    "numpy.random._pickle.__randomstate_ctor",
    "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "datetime.timezone",
};
}  // namespace

const std::span<const std::string_view> kInertRecordTypes{kInertRecordTypeNames};

bool is_inert_record_type(std::string_view module, std::string_view name) {
  for (auto q : kInertRecordTypeNames)
    if (q.size() == module.size() + 1 + name.size() && q.substr(0, module.size()) == module &&
        q[module.size()] == '.' && q.substr(module.size() + 1) == name)
      return true;
  return false;
}

namespace detail {
namespace {

struct StorageClass {
  std::string_view name;
  DType dtype;
};
constexpr std::array<StorageClass, 11> kStorageClasses{{
    {"FloatStorage", DType::F32}, {"DoubleStorage", DType::F64}, {"HalfStorage", DType::F16},
    {"BFloat16Storage", DType::BF16}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16}, {"CharStorage", DType::I8}, {"ByteStorage", DType::U8},
    {"BoolStorage", DType::Bool}, {"UntypedStorage", DType::U8},
}};

const std::unordered_map<std::string, int>& builtin_table() {
  static const std::unordered_map<std::string, int> table = [] {
    std::unordered_map<std::string, int> t{
        {"torch._utils._rebuild_tensor", kRebuildTensor},
        {"torch._utils._rebuild_tensor_v2", kRebuildTensorV2},
        {"torch._utils._rebuild_parameter", kRebuildParameter},
        {"torch._utils._rebuild_parameter_with_state", kRebuildParameterWithState},
        {"torch._tensor._rebuild_from_type_v2", kRebuildFromTypeV2},
        {"torch.nn.parameter.Parameter", kParameter},
        {"torch.nn.Parameter", kParameter},
        {"torch.Tensor", kTensorClass},
        {"torch._tensor.Tensor", kTensorClass},
        {"torch.Size", kTorchSize},
        {"torch.device", kTorchDevice},
        {"collections.OrderedDict", kOrderedDict},
        {"collections.defaultdict", kDefaultDict},
        {"numpy.core.multiarray.scalar", kNumpyScalar},
        {"numpy._core.multiarray.scalar", kNumpyScalar},
        {"numpy.dtype", kNumpyDType},
        {"numpy.core.multiarray._reconstruct", kNumpyReconstruct},
        {"numpy._core.multiarray._reconstruct", kNumpyReconstruct},
        {"numpy.ndarray", kNumpyNdarray},
        {"numpy.core.numeric._frombuffer", kNumpyFromBuffer},
        {"numpy._core.numeric._frombuffer", kNumpyFromBuffer},
        {"_codecs.encode", kCodecsEncode},
        {"copyreg._reconstructor", kCopyregReconstructor},
        {"copyreg.__newobj__", kCopyregNewobj},
        {"copyreg.__newobj_ex__", kCopyregNewobjEx},
    };
    const std::pair<const char*, int> builtins[] = {
        {"set", kSet}, {"frozenset", kFrozenSet}, {"slice", kSlice}, {"complex", kComplex},
        {"bytearray", kBytearray}, {"bytes", kBytes}, {"list", kList}, {"dict", kDict}, {"tuple", kTuple},
        {"int", kInt}, {"float", kFloat}, {"bool", kBool}, {"str", kStr}, {"object", kObject}};
    for (const auto& [name, id] : builtins) t.emplace(std::string("builtins.") + name, id);
    for (const auto& s : kStorageClasses) {
      t.emplace("torch." + std::string(s.name), kStorageClass);
      t.emplace("torch.cuda." + std::string(s.name), kStorageClass);
    }
    t.emplace("torch.storage.UntypedStorage", kStorageClass);
    for (const char* d : {"float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long",
                          "int32", "int", "int16", "short", "int8", "uint8", "bool"})
      t.emplace(std::string("torch.") + d, kTorchDType);
    return t;
  }();
  return table;
}

// Python 2 module names that CPython's unpickler maps to their Python 3 homes.
std::string canonical_module(std::string module) {
  if (module == "__builtin__") return "builtins";
  if (module == "copy_reg") return "copyreg";
  return module;
}

ValuePtr make_bytes(std::string data, bool bytearray, PickleContext& ctx) {
  ctx.count_string_bytes(data.size());
  auto v = Value::bytes(std::move(data), bytearray);
  return bytearray ? ctx.track(v) : v;
}

// bytes()/bytearray() arguments: (), (bytes), (str, encoding), (list of ints).
std::string bytes_from_args(const std::vector<ValuePtr>& a, const GlobalRef& g, PickleContext& ctx) {
  expect_count(a, 0, 3, g, ctx);
  if (a.empty()) return {};
  if (a[0]->is(ValueKind::Bytes)) return a[0]->as_bytes();
  if (a[0]->is(ValueKind::Str)) {
    if (a.size() < 2 || !a[1]->is(ValueKind::Str)) ctx.fail(g.qualified() + ": a str argument needs an encoding");
    return encode_text(a[0]->as_str(), a[1]->as_str(), g, ctx);
  }
  if (a[0]->is(ValueKind::List) || a[0]->is(ValueKind::Tuple)) {
    std::string out;
    for (const auto& i : a[0]->items()) {
      const auto b = int_arg(i, "byte", g, ctx);
      if (b < 0 || b > 255) ctx.fail(g.qualified() + ": byte value out of range");
      out += static_cast<char>(b);
    }
    return out;
  }
  ctx.fail(g.qualified() + ": cannot make bytes from a " + a[0]->type_name());
}

// ---- dict-like constructors -------------------------------------------------------------------

ValuePtr make_dict(DictFlavor flavor, const std::vector<ValuePtr>& a, const GlobalRef& g, PickleContext& ctx) {
  auto d = ctx.track(Value::dict(flavor));
  std::size_t first = 0;
  if (flavor == DictFlavor::DefaultDict) {
    if (!a.empty()) d->set_default_factory(a[0]);  // stored, never called
    first = 1;
  }
  if (a.size() > first + 1) ctx.fail(g.qualified() + ": too many arguments");
  if (a.size() == first + 1) {
    const ValuePtr& src = a[first];
    try {
      if (src->is(ValueKind::Dict)) {
        ctx.count_elements(src->size());
        for (const auto& [k, v] : src->dict_data().entries) d->set_item(k, v);
      } else {
        for (const auto& pair : iterable_items(src, g, ctx)) {
          if (!(pair->is(ValueKind::Tuple) || pair->is(ValueKind::List)) || pair->items().size() != 2)
            ctx.fail(g.qualified() + ": expected (key, value) pairs");
          d->set_item(pair->items()[0], pair->items()[1]);
        }
      }
    } catch (const InputError& e) {
      ctx.fail(e.what());
    }
  }
  ctx.check_nesting(*d);
  return d;
}

ValuePtr make_object_record(const GlobalRef& type, std::vector<ValuePtr> args, PickleContext& ctx) {
  ObjectData o;
  o.type = type;
  o.args = Value::tuple(std::move(args));
  auto v = Value::object(std::move(o));
  v->raise_nesting(v->object_data().args->nesting());
  ctx.check_nesting(*v);
  return ctx.track(v);
}

ValuePtr call_builtin(const GlobalRef& g, const std::vector<ValuePtr>& a, PickleContext& ctx) {
  switch (g.builtin) {
    case kRebuildTensor: case kRebuildTensorV2: case kRebuildParameter: case kRebuildParameterWithState:
    case kRebuildFromTypeV2: case kParameter: case kTorchSize: case kTorchDevice:
      return call_torch_builtin(g, a, ctx);
    case kNumpyScalar: case kNumpyDType: case kNumpyReconstruct: case kNumpyFromBuffer:
      return call_numpy_builtin(g, a, ctx);
    case kOrderedDict: return make_dict(DictFlavor::OrderedDict, a, g, ctx);
    case kDefaultDict: return make_dict(DictFlavor::DefaultDict, a, g, ctx);
    case kDict: return make_dict(DictFlavor::Plain, a, g, ctx);
    case kCodecsEncode: {
      expect_count(a, 1, 3, g, ctx);
      if (!a[0]->is(ValueKind::Str)) ctx.fail(g.qualified() + ": expected a str, got " + a[0]->type_name());
      const std::string enc = a.size() >= 2 && a[1]->is(ValueKind::Str) ? a[1]->as_str() : "utf-8";
      return make_bytes(encode_text(a[0]->as_str(), enc, g, ctx), false, ctx);
    }
    case kSet:
    case kFrozenSet: {
      expect_count(a, 0, 1, g, ctx);
      std::vector<ValuePtr> items = a.empty() ? std::vector<ValuePtr>{} : iterable_items(a[0], g, ctx);
      ValuePtr s;
      try {
        s = Value::set(std::move(items), g.builtin == kFrozenSet);
      } catch (const InputError& e) {
        ctx.fail(e.what());
      }
      ctx.check_nesting(*s);
      return ctx.track(s);
    }
    case kSlice: {
      expect_count(a, 1, 3, g, ctx);
      if (a.size() == 1) return Value::slice(Value::none(), a[0], Value::none());
      return Value::slice(a[0], a[1], a.size() == 3 ? a[2] : Value::none());
    }
    case kComplex: {
      expect_count(a, 0, 2, g, ctx);
      auto real = [&](std::size_t i) -> double {
        if (i >= a.size()) return 0.0;
        if (!(a[i]->is(ValueKind::Float) || a[i]->is(ValueKind::Int) || a[i]->is(ValueKind::Bool)))
          ctx.fail(g.qualified() + ": expected a number, got " + a[i]->type_name());
        return a[i]->as_float();
      };
      return Value::complex({real(0), real(1)});
    }
    case kBytearray: return make_bytes(bytes_from_args(a, g, ctx), true, ctx);
    case kBytes: return make_bytes(bytes_from_args(a, g, ctx), false, ctx);
    case kList: {
      expect_count(a, 0, 1, g, ctx);
      auto l = Value::list(a.empty() ? std::vector<ValuePtr>{} : iterable_items(a[0], g, ctx));
      ctx.check_nesting(*l);
      return ctx.track(l);
    }
    case kTuple: {
      expect_count(a, 0, 1, g, ctx);
      auto t = Value::tuple(a.empty() ? std::vector<ValuePtr>{} : iterable_items(a[0], g, ctx));
      ctx.check_nesting(*t);
      return t;
    }
    case kInt: {
      expect_count(a, 0, 1, g, ctx);
      if (a.empty()) return Value::integer(0);
      const Value& v = *a[0];
      if (v.is(ValueKind::Int) || v.is(ValueKind::BigInt)) return a[0];
      if (v.is(ValueKind::Bool)) return Value::integer(v.as_int());
      if (v.is(ValueKind::Float)) {
        const double d = v.as_float();
        if (!std::isfinite(d) || std::abs(d) >= 9.2e18) ctx.fail(g.qualified() + ": float out of range");
        return Value::integer(static_cast<std::int64_t>(d));
      }
      if (v.is(ValueKind::Str)) {
        try {
          return parse_decimal_integer(v.as_str());
        } catch (const std::invalid_argument&) {
          ctx.fail(g.qualified() + ": invalid integer text");
        }
      }
      ctx.fail(g.qualified() + ": cannot convert a " + v.type_name());
    }
    case kFloat: {
      expect_count(a, 0, 1, g, ctx);
      if (a.empty()) return Value::floating(0.0);
      const Value& v = *a[0];
      if (v.is(ValueKind::Str)) {
        char* end = nullptr;
        const double d = std::strtod(v.as_str().c_str(), &end);
        if (v.as_str().empty() || end != v.as_str().c_str() + v.as_str().size()) ctx.fail(g.qualified() + ": invalid float text");
        return Value::floating(d);
      }
      if (v.is(ValueKind::Float) || v.is(ValueKind::Int) || v.is(ValueKind::Bool)) return Value::floating(v.as_float());
      ctx.fail(g.qualified() + ": cannot convert a " + v.type_name());
    }
    case kBool:
      expect_count(a, 0, 1, g, ctx);
      return Value::boolean(!a.empty() && truthy(*a[0]));
    case kStr:
      expect_count(a, 0, 1, g, ctx);
      if (a.empty()) return Value::str("");
      if (a[0]->is(ValueKind::Str)) return a[0];
      ctx.fail(g.qualified() + ": only str arguments are supported, got " + a[0]->type_name());
    case kCopyregReconstructor: {
      expect_count(a, 3, 3, g, ctx);
      if (!a[0]->is(ValueKind::Global)) ctx.fail(g.qualified() + ": the class must be a global");
      const GlobalRef& cls = a[0]->global_ref();
      if (!is_inert_record_type(cls.module, cls.name)) ctx.refuse_call(cls.qualified());
      return make_object_record(cls, {}, ctx);
    }
    case kCopyregNewobj: {
      if (a.empty()) ctx.fail(g.qualified() + ": missing class");
      return new_object(a[0], Value::tuple(std::vector<ValuePtr>(a.begin() + 1, a.end())), nullptr, ctx);
    }
    case kCopyregNewobjEx:
      expect_count(a, 3, 3, g, ctx);
      return new_object(a[0], a[1], a[2], ctx);
    default: ctx.refuse_call(g.qualified());
  }
}

}  // namespace

std::optional<DType> storage_class_dtype(const GlobalRef& g) {
  if (g.builtin != kStorageClass) return std::nullopt;
  for (const auto& s : kStorageClasses)
    if (s.name == g.name) return s.dtype;
  return std::nullopt;
}

GlobalRef resolve_global(std::string module, std::string name) {
  GlobalRef g{canonical_module(std::move(module)), std::move(name), -1};
  const auto& table = builtin_table();
  if (auto it = table.find(g.qualified()); it != table.end()) g.builtin = it->second;
  return g;
}

ValuePtr call_global(const ValuePtr& callee, const ValuePtr& args, PickleContext& ctx) {
  if (!callee->is(ValueKind::Global)) ctx.fail("cannot call a " + callee->type_name() + " (only globals are callable)");
  const GlobalRef& g = callee->global_ref();
  const auto& a = positional(args, g, ctx);
  if (g.builtin < 0) {
    if (is_inert_record_type(g.module, g.name)) return make_object_record(g, a, ctx);
    ctx.refuse_call(g.qualified());
  }
  return call_builtin(g, a, ctx);
}

ValuePtr new_object(const ValuePtr& cls, const ValuePtr& args, const ValuePtr& kwargs, PickleContext& ctx) {
  if (!cls->is(ValueKind::Global)) ctx.fail("cannot instantiate a " + cls->type_name() + " (only globals are classes)");
  const GlobalRef& g = cls->global_ref();
  std::vector<ValuePtr> a = positional(args, g, ctx);
  if (kwargs && !kwargs->is_none() && !(kwargs->is(ValueKind::Dict) && kwargs->size() == 0)) {
    if (!(g.builtin < 0 && is_inert_record_type(g.module, g.name))) ctx.fail(g.qualified() + ": keyword arguments are not supported");
    a.push_back(kwargs);
  }
  if (g.builtin < 0) {
    if (is_inert_record_type(g.module, g.name)) return make_object_record(g, std::move(a), ctx);
    ctx.refuse_call(g.qualified());
  }
  return call_builtin(g, a, ctx);
}

void apply_build(const ValuePtr& target, const ValuePtr& state, PickleContext& ctx) {
  switch (target->kind()) {
    case ValueKind::Dict:
      if (!state->is_none()) target->set_attributes(state);
      ctx.check_nesting(*target);
      return;
    case ValueKind::Object:
      target->mutable_object_data().state = state;
      target->raise_nesting(state->nesting());
      ctx.check_nesting(*target);
      return;
    case ValueKind::Tensor:
      // Python attributes set on a tensor (e.g. by a Parameter subclass) carry no data.
      refuse_foreign_dependencies({state}, ctx);
      return;
    case ValueKind::NumpyDType:
      build_numpy_dtype(*target, state, ctx);
      return;
    case ValueKind::NumpyArray:
      build_numpy_array(*target, state, ctx);
      return;
    case ValueKind::Bytes:
    case ValueKind::Set:
    case ValueKind::List:
      if (state->is_none() || (state->is(ValueKind::Dict) && state->size() == 0)) return;
      [[fallthrough]];
    default: ctx.fail("cannot BUILD (set the state of) a " + target->type_name());
  }
}

}  // namespace detail
}  // namespace medport::ckpt
