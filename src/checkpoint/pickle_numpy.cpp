// numpy scalars, dtypes and arrays as numpy pickles them, emulated on Values.
#include <algorithm>
#include <cstring>

#include "medport/error.hpp"
#include "pickle_internal.hpp"

namespace medport::ckpt::detail {
namespace {

// Bounds what a dtype may make medport allocate for one element (numpy's own limit is far larger,
// but no checkpoint stores megabyte-wide scalars).
constexpr std::int64_t kMaxNumpyItemSize = std::int64_t{1} << 20;

NumpyDTypeData parse_numpy_dtype_spec(const std::string& spec, const GlobalRef& g, PickleContext& ctx) {
  NumpyDTypeData d;
  std::string_view s = spec;
  if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
    d.byteorder = s[0] == '=' ? '<' : s[0];
    s.remove_prefix(1);
  }
  if (s.empty()) ctx.fail(g.qualified() + ": empty dtype '" + spec + "'");
  d.kind = s[0];
  s.remove_prefix(1);
  std::int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || n > 1'000'000'000) ctx.fail(g.qualified() + ": unsupported dtype '" + spec + "'");
    n = n * 10 + (c - '0');
  }
  switch (d.kind) {
    case 'f': case 'i': case 'u': case 'c':
      if (n <= 0) ctx.fail(g.qualified() + ": unsupported dtype '" + spec + "'");
      d.itemsize = n;
      break;
    case 'b': d.itemsize = 1; break;
    case 'O': d.itemsize = 8; break;
    case 'M': case 'm': d.itemsize = 8; break;
    case 'S': case 'V': d.itemsize = n; break;
    case 'U': d.itemsize = 4 * n; break;
    default: ctx.fail(g.qualified() + ": unsupported dtype '" + spec + "'");
  }
  if (d.itemsize > kMaxNumpyItemSize) ctx.fail(g.qualified() + ": dtype '" + spec + "' has an implausible item size");
  if (d.itemsize == 1 || d.kind == 'O' || d.kind == 'S' || d.kind == 'V') d.byteorder = '|';
  return d;
}

std::string numpy_bytes_arg(const ValuePtr& v, const GlobalRef& g, PickleContext& ctx) {
  if (v->is(ValueKind::Bytes)) return v->as_bytes();
  // Python 2 pickles carry the raw bytes as a (latin-1 decoded) str.
  if (v->is(ValueKind::Str)) return encode_text(v->as_str(), "latin1", g, ctx);
  ctx.fail(g.qualified() + ": expected bytes, got " + v->type_name());
}

void fill_numpy_array(NumpyArrayData& arr, Shape shape, const NumpyDTypeData& dtype, bool fortran,
                      const ValuePtr& data, const GlobalRef& g, PickleContext& ctx) {
  std::int64_t numel = 0;
  try {
    numel = shape_numel(shape);
  } catch (const std::out_of_range& e) {
    ctx.fail(g.qualified() + ": array shape " + shape_string(shape) + ": " + e.what());
  }
  arr.dtype = dtype;
  arr.shape = shape;
  if (dtype.kind == 'O') {
    if (!data->is(ValueKind::List)) ctx.fail(g.qualified() + ": an object array needs a list of elements");
    if (static_cast<std::int64_t>(data->items().size()) != numel)
      ctx.fail(g.qualified() + ": object array of shape " + shape_string(shape) + " has " +
               std::to_string(data->items().size()) + " elements");
    arr.objects = data;
    return;
  }
  std::string raw = numpy_bytes_arg(data, g, ctx);
  const auto expected = static_cast<unsigned __int128>(numel) * static_cast<unsigned __int128>(dtype.itemsize);
  if (expected != raw.size())
    ctx.fail(g.qualified() + ": array of shape " + shape_string(shape) + " and dtype " + dtype.name() + " needs " +
             std::to_string(static_cast<unsigned long long>(std::min<unsigned __int128>(expected, UINT64_MAX))) +
             " bytes but has " + std::to_string(raw.size()));
  const auto mdtype = dtype.medport_dtype();
  if (!mdtype) {
    arr.raw = std::move(raw);
    return;
  }
  const std::size_t esize = dtype_size(*mdtype);
  if (dtype.byteorder == '>' && esize > 1)
    for (std::size_t i = 0; i + esize <= raw.size(); i += esize) std::reverse(raw.begin() + i, raw.begin() + i + esize);
  std::vector<std::byte> bytes(raw.size());
  if (!raw.empty()) std::memcpy(bytes.data(), raw.data(), raw.size());
  auto storage = std::make_shared<Storage>(*mdtype, std::move(bytes));
  Shape strides = contiguous_strides(shape);
  if (fortran) {
    std::int64_t s = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
      strides[i] = s;
      s *= std::max<std::int64_t>(shape[i], 1);
    }
  }
  arr.tensor = medport::Tensor(std::move(storage), 0, shape, strides).contiguous();
}

ValuePtr numpy_scalar(const std::vector<ValuePtr>& a, const GlobalRef& g, PickleContext& ctx) {
  expect_count(a, 1, 2, g, ctx);
  if (!a[0]->is(ValueKind::NumpyDType)) ctx.fail(g.qualified() + ": expected a numpy dtype, got " + a[0]->type_name());
  const auto& dtype = a[0]->numpy_dtype();
  if (dtype.kind == 'O') {
    if (a.size() < 2) return Value::none();
    return a[1];
  }
  NumpyScalarData s;
  s.dtype = dtype;
  s.raw = a.size() == 2 ? numpy_bytes_arg(a[1], g, ctx) : std::string(static_cast<std::size_t>(dtype.itemsize), '\0');
  if (s.raw.size() != static_cast<std::size_t>(dtype.itemsize))
    ctx.fail(g.qualified() + ": a " + dtype.name() + " scalar needs " + std::to_string(dtype.itemsize) +
             " bytes, got " + std::to_string(s.raw.size()));
  return Value::numpy_scalar(std::move(s));
}

}  // namespace

ValuePtr call_numpy_builtin(const GlobalRef& g, const std::vector<ValuePtr>& a, PickleContext& ctx) {
  switch (g.builtin) {
    case kNumpyScalar: return numpy_scalar(a, g, ctx);
    case kNumpyDType: {
      expect_count(a, 1, 3, g, ctx);
      if (!a[0]->is(ValueKind::Str)) ctx.fail(g.qualified() + ": only dtypes given by a type string are supported");
      return Value::numpy_dtype(parse_numpy_dtype_spec(a[0]->as_str(), g, ctx));
    }
    case kNumpyReconstruct: {
      expect_count(a, 3, 3, g, ctx);
      if (!a[0]->is(ValueKind::Global) || a[0]->global_ref().builtin != kNumpyNdarray)
        ctx.refuse_call(a[0]->is(ValueKind::Global) ? a[0]->global_ref().qualified() : a[0]->type_name());
      NumpyArrayData arr;
      arr.dtype = NumpyDTypeData{'u', 1, '|'};
      arr.shape = {0};
      return ctx.track(Value::numpy_array(std::move(arr)));
    }
    case kNumpyFromBuffer: {
      expect_count(a, 4, 4, g, ctx);
      if (!a[1]->is(ValueKind::NumpyDType)) ctx.fail(g.qualified() + ": expected a numpy dtype");
      if (!a[3]->is(ValueKind::Str)) ctx.fail(g.qualified() + ": order must be 'C' or 'F'");
      NumpyArrayData arr;
      fill_numpy_array(arr, int_sequence(a[2], "shape", g, ctx), a[1]->numpy_dtype(), a[3]->as_str() == "F", a[0], g, ctx);
      return ctx.track(Value::numpy_array(std::move(arr)));
    }
    default: ctx.refuse_call(g.qualified());
  }
}

void build_numpy_dtype(Value& target, const ValuePtr& state, PickleContext& ctx) {
  // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
  if (!state->is(ValueKind::Tuple) || state->items().size() < 8) ctx.fail("unsupported numpy dtype state");
  const auto& s = state->items();
  auto& d = target.mutable_numpy_dtype();
  if (s[1]->is(ValueKind::Str) && s[1]->as_str().size() == 1) {
    const char bo = s[1]->as_str()[0];
    d.byteorder = bo == '=' ? '<' : bo;
  }
  if (!s[2]->is_none() || !s[3]->is_none()) ctx.fail("structured and sub-array numpy dtypes are not supported");
  if ((d.kind == 'S' || d.kind == 'U' || d.kind == 'V') && s[5]->is(ValueKind::Int) && s[5]->as_int() > 0) {
    if (s[5]->as_int() > kMaxNumpyItemSize) ctx.fail("numpy dtype with an implausible item size");
    d.itemsize = s[5]->as_int();
  }
}

void build_numpy_array(Value& target, const ValuePtr& state, PickleContext& ctx) {
  // (version, shape, dtype, is_fortran, data) or, from old numpy, without the version.
  if (!state->is(ValueKind::Tuple)) ctx.fail("unsupported numpy array state");
  auto s = state->items();
  if (s.size() == 5) s.erase(s.begin());
  if (s.size() != 4 || !s[1]->is(ValueKind::NumpyDType)) ctx.fail("unsupported numpy array state");
  static const GlobalRef kArray{"numpy", "ndarray", kNumpyNdarray};
  auto& arr = target.mutable_numpy_array();
  fill_numpy_array(arr, int_sequence(s[0], "shape", kArray, ctx), s[1]->numpy_dtype(), truthy(*s[2]), s[3], kArray, ctx);
  if (arr.objects) {
    target.raise_nesting(arr.objects->nesting());
    ctx.check_nesting(target);
  }
}

}  // namespace medport::ckpt::detail
