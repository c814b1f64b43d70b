#include "medport/checkpoint/value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "medport/error.hpp"

namespace medport::ckpt {

std::string_view kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::None: return "NoneType";
    case ValueKind::Bool: return "bool";
    case ValueKind::Int: return "int";
    case ValueKind::BigInt: return "int";
    case ValueKind::Float: return "float";
    case ValueKind::Complex: return "complex";
    case ValueKind::Str: return "str";
    case ValueKind::Bytes: return "bytes";
    case ValueKind::List: return "list";
    case ValueKind::Tuple: return "tuple";
    case ValueKind::Dict: return "dict";
    case ValueKind::Set: return "set";
    case ValueKind::FrozenSet: return "frozenset";
    case ValueKind::Slice: return "slice";
    case ValueKind::Global: return "global";
    case ValueKind::Object: return "object";
    case ValueKind::Tensor: return "Tensor";
    case ValueKind::Storage: return "storage";
    case ValueKind::NumpyScalar: return "numpy scalar";
    case ValueKind::NumpyArray: return "ndarray";
    case ValueKind::NumpyDType: return "dtype";
    case ValueKind::Device: return "torch.device";
  }
  return "?";
}

// ---- construction -------------------------------------------------------------------------

ValuePtr Value::none() { return std::make_shared<Value>(ValueKind::None, std::monostate{}); }
ValuePtr Value::boolean(bool v) { return std::make_shared<Value>(ValueKind::Bool, v); }
ValuePtr Value::integer(std::int64_t v) { return std::make_shared<Value>(ValueKind::Int, v); }
ValuePtr Value::big_integer(std::string text) { return std::make_shared<Value>(ValueKind::BigInt, std::move(text)); }
ValuePtr Value::floating(double v) { return std::make_shared<Value>(ValueKind::Float, v); }
ValuePtr Value::complex(std::complex<double> v) { return std::make_shared<Value>(ValueKind::Complex, v); }
ValuePtr Value::str(std::string utf8) { return std::make_shared<Value>(ValueKind::Str, std::move(utf8)); }
ValuePtr Value::bytes(std::string data, bool bytearray) {
  auto v = std::make_shared<Value>(ValueKind::Bytes, std::move(data));
  v->bytearray_ = bytearray;
  return v;
}

namespace {
ValuePtr container(ValueKind kind, Value::Payload payload) {
  auto v = std::make_shared<Value>(kind, std::move(payload));
  v->raise_nesting(0);
  return v;
}
std::uint32_t max_child_nesting(const std::vector<ValuePtr>& items) {
  std::uint32_t n = 0;
  for (const auto& i : items)
    if (i && i->nesting() > n) n = i->nesting();
  return n;
}
}  // namespace

ValuePtr Value::list(std::vector<ValuePtr> items) {
  const auto n = max_child_nesting(items);
  auto v = container(ValueKind::List, std::move(items));
  v->raise_nesting(n);
  return v;
}
ValuePtr Value::tuple(std::vector<ValuePtr> items) {
  const auto n = max_child_nesting(items);
  auto v = container(ValueKind::Tuple, std::move(items));
  v->raise_nesting(n);
  return v;
}
ValuePtr Value::dict(DictFlavor flavor) {
  DictData d;
  d.flavor = flavor;
  return container(ValueKind::Dict, std::move(d));
}
ValuePtr Value::set(std::vector<ValuePtr> items, bool frozen) {
  std::vector<ValuePtr> unique;
  std::unordered_map<std::string, bool> seen;
  for (auto& i : items)
    if (seen.emplace(hash_key(*i), true).second) unique.push_back(std::move(i));
  const auto n = max_child_nesting(unique);
  auto v = container(frozen ? ValueKind::FrozenSet : ValueKind::Set, std::move(unique));
  v->raise_nesting(n);
  return v;
}
ValuePtr Value::slice(ValuePtr start, ValuePtr stop, ValuePtr step) {
  return container(ValueKind::Slice, std::vector<ValuePtr>{std::move(start), std::move(stop), std::move(step)});
}
ValuePtr Value::global(GlobalRef ref) { return std::make_shared<Value>(ValueKind::Global, std::move(ref)); }
ValuePtr Value::object(ObjectData data) { return container(ValueKind::Object, std::move(data)); }
ValuePtr Value::tensor(TensorData data) { return std::make_shared<Value>(ValueKind::Tensor, std::move(data)); }
ValuePtr Value::storage(StorageData data) { return std::make_shared<Value>(ValueKind::Storage, std::move(data)); }
ValuePtr Value::numpy_scalar(NumpyScalarData data) {
  return std::make_shared<Value>(ValueKind::NumpyScalar, std::move(data));
}
ValuePtr Value::numpy_array(NumpyArrayData data) { return container(ValueKind::NumpyArray, std::move(data)); }
ValuePtr Value::numpy_dtype(NumpyDTypeData data) {
  return std::make_shared<Value>(ValueKind::NumpyDType, std::move(data));
}
ValuePtr Value::device(std::string text) { return std::make_shared<Value>(ValueKind::Device, std::move(text)); }

// ---- teardown without recursion -------------------------------------------------------------

void Value::release_children(std::vector<ValuePtr>& out) {
  auto take = [&out](ValuePtr& p) {
    if (p) out.push_back(std::move(p));
  };
  if (auto* seq = std::get_if<std::vector<ValuePtr>>(&payload_)) {
    for (auto& p : *seq) take(p);
    seq->clear();
  } else if (auto* d = std::get_if<DictData>(&payload_)) {
    for (auto& [k, v] : d->entries) {
      take(k);
      take(v);
    }
    d->entries.clear();
    d->index.clear();
    take(d->default_factory);
    take(d->attributes);
  } else if (auto* o = std::get_if<ObjectData>(&payload_)) {
    take(o->args);
    take(o->state);
    for (auto& p : o->list_items) take(p);
    for (auto& [k, v] : o->dict_items) {
      take(k);
      take(v);
    }
    o->list_items.clear();
    o->dict_items.clear();
  } else if (auto* t = std::get_if<TensorData>(&payload_)) {
    take(t->storage);
  } else if (auto* a = std::get_if<NumpyArrayData>(&payload_)) {
    take(a->objects);
  }
}

void Value::collect_children(std::vector<const Value*>& out) const {
  auto add = [&out](const ValuePtr& p) {
    if (p) out.push_back(p.get());
  };
  if (auto* seq = std::get_if<std::vector<ValuePtr>>(&payload_)) {
    for (const auto& p : *seq) add(p);
  } else if (auto* d = std::get_if<DictData>(&payload_)) {
    for (const auto& [k, v] : d->entries) {
      add(k);
      add(v);
    }
    add(d->default_factory);
    add(d->attributes);
  } else if (auto* o = std::get_if<ObjectData>(&payload_)) {
    add(o->args);
    add(o->state);
    for (const auto& p : o->list_items) add(p);
    for (const auto& [k, v] : o->dict_items) {
      add(k);
      add(v);
    }
  } else if (auto* t = std::get_if<TensorData>(&payload_)) {
    add(t->storage);
  } else if (auto* a = std::get_if<NumpyArrayData>(&payload_)) {
    add(a->objects);
  }
}

Value::~Value() {
  std::vector<ValuePtr> pending;
  release_children(pending);
  while (!pending.empty()) {
    ValuePtr p = std::move(pending.back());
    pending.pop_back();
    // Only the last owner dismantles a child; its own destructor then finds nothing to recurse into.
    if (p.use_count() == 1) p->release_children(pending);
  }
}

// ---- names and display ----------------------------------------------------------------------

namespace {
bool is_torch_dtype_name(const GlobalRef& g) {
  static constexpr std::string_view kNames[] = {
      "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
      "int16", "short", "int8", "uint8", "bool", "complex64", "complex128", "cfloat", "cdouble"};
  if (g.module != "torch") return false;
  for (auto n : kNames)
    if (g.name == n) return true;
  return false;
}
}  // namespace

std::string Value::type_name() const {
  switch (kind_) {
    case ValueKind::Bytes: return bytearray_ ? "bytearray" : "bytes";
    case ValueKind::Dict:
      switch (dict_data().flavor) {
        case DictFlavor::OrderedDict: return "OrderedDict";
        case DictFlavor::DefaultDict: return "defaultdict";
        case DictFlavor::Plain: return "dict";
      }
      return "dict";
    case ValueKind::Global: return is_torch_dtype_name(global_ref()) ? "torch.dtype" : "type";
    case ValueKind::Object: return object_data().type.qualified();
    case ValueKind::Tensor: return tensor_data().is_parameter ? "Parameter" : "Tensor";
    case ValueKind::Storage: return storage_data().type_name;
    case ValueKind::NumpyScalar: return numpy_scalar().dtype.name();
    default: return std::string(kind_name(kind_));
  }
}

namespace {
void append_escaped(std::string& out, const std::string& s, char quote) {
  out += quote;
  for (unsigned char c : s) {
    if (c == '\\' || c == static_cast<unsigned char>(quote)) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
}

void append_bytes_repr(std::string& out, const std::string& s) {
  out += "b'";
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c == '\\' || c == '\'') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  out += '\'';
}

// Repr with a character budget; recursion is bounded by kReprDepth, not by the input.
constexpr int kReprDepth = 12;

void repr_into(const Value& v, std::string& out, std::size_t budget, int depth) {
  if (out.size() > budget) return;
  if (depth > kReprDepth) {
    out += "...";
    return;
  }
  auto seq = [&](const std::vector<ValuePtr>& items, const char* open, const char* close, bool one_tuple) {
    out += open;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i) out += ", ";
      if (out.size() > budget) {
        out += "...";
        break;
      }
      repr_into(*items[i], out, budget, depth + 1);
    }
    if (one_tuple && items.size() == 1) out += ",";
    out += close;
  };
  switch (v.kind()) {
    case ValueKind::None: out += "None"; break;
    case ValueKind::Bool: out += v.as_bool() ? "True" : "False"; break;
    case ValueKind::Int: out += std::to_string(v.as_int()); break;
    case ValueKind::BigInt: out += v.big_int_text(); break;
    case ValueKind::Float: out += python_float_repr(v.as_float()); break;
    case ValueKind::Complex: {
      const auto c = v.as_complex();
      out += "(" + python_float_repr(c.real()) + (c.imag() < 0 ? "-" : "+") + python_float_repr(std::abs(c.imag())) + "j)";
      break;
    }
    case ValueKind::Str: append_escaped(out, v.as_str(), '\''); break;
    case ValueKind::Bytes:
      if (v.is_bytearray()) out += "bytearray(";
      append_bytes_repr(out, v.as_bytes());
      if (v.is_bytearray()) out += ")";
      break;
    case ValueKind::List: seq(v.items(), "[", "]", false); break;
    case ValueKind::Tuple: seq(v.items(), "(", ")", true); break;
    case ValueKind::Set:
      if (v.items().empty()) out += "set()";
      else seq(v.items(), "{", "}", false);
      break;
    case ValueKind::FrozenSet: seq(v.items(), "frozenset({", "})", false); break;
    case ValueKind::Slice: seq(v.items(), "slice(", ")", false); break;
    case ValueKind::Dict: {
      const auto& d = v.dict_data();
      if (d.flavor == DictFlavor::OrderedDict) out += "OrderedDict(";
      if (d.flavor == DictFlavor::DefaultDict) out += "defaultdict(";
      out += "{";
      for (std::size_t i = 0; i < d.entries.size(); ++i) {
        if (i) out += ", ";
        if (out.size() > budget) {
          out += "...";
          break;
        }
        repr_into(*d.entries[i].first, out, budget, depth + 1);
        out += ": ";
        repr_into(*d.entries[i].second, out, budget, depth + 1);
      }
      out += "}";
      if (d.flavor != DictFlavor::Plain) out += ")";
      break;
    }
    case ValueKind::Global: out += "<global " + v.global_ref().qualified() + ">"; break;
    case ValueKind::Object: {
      const auto& o = v.object_data();
      out += o.type.qualified();
      if (o.args) repr_into(*o.args, out, budget, depth + 1);
      else out += "()";
      break;
    }
    case ValueKind::Tensor: {
      const auto& t = v.tensor_data();
      const auto dtype = t.storage ? t.storage->storage_data().dtype : DType::F32;
      out += v.type_name() + "(" + std::string(dtype_name(dtype)) + ", " + shape_string(t.shape) + ")";
      break;
    }
    case ValueKind::Storage: {
      const auto& s = v.storage_data();
      out += s.type_name + "(key=" + s.key + ", " + std::to_string(s.numel) + " elements, " + s.location + ")";
      break;
    }
    case ValueKind::NumpyScalar: {
      const auto& s = v.numpy_scalar();
      out += "np." + s.dtype.name() + "(";
      if (s.is_floating()) out += python_float_repr(s.to_double());
      else if (s.is_integer()) out += std::to_string(s.to_int());
      else if (s.dtype.kind == 'b') out += (s.raw.size() == 1 && s.raw[0] != 0) ? "True" : "False";
      else out += "...";
      out += ")";
      break;
    }
    case ValueKind::NumpyArray: {
      const auto& a = v.numpy_array();
      out += "ndarray(" + a.dtype.name() + ", " + shape_string(a.shape) + ")";
      break;
    }
    case ValueKind::NumpyDType: out += "dtype('" + v.numpy_dtype().name() + "')"; break;
    case ValueKind::Device: out += "device('" + v.device_text() + "')"; break;
  }
}
}  // namespace

std::string Value::repr(std::size_t max_chars) const {
  std::string out;
  repr_into(*this, out, max_chars, 0);
  if (out.size() > max_chars + 3) {
    out.resize(max_chars);
    out += "...";
  }
  return out;
}

// ---- accessors ------------------------------------------------------------------------------

namespace {
[[noreturn]] void wrong_kind(const char* expected, const Value& v) {
  throw InputError("", std::string("expected ") + expected + ", got " + v.type_name());
}
}  // namespace

bool Value::as_bool() const {
  if (kind_ == ValueKind::Bool) return std::get<bool>(payload_);
  if (kind_ == ValueKind::NumpyScalar && numpy_scalar().dtype.kind == 'b') {
    const auto& raw = numpy_scalar().raw;
    return !raw.empty() && raw[0] != 0;
  }
  wrong_kind("bool", *this);
}

std::int64_t Value::as_int() const {
  if (kind_ == ValueKind::Int) return std::get<std::int64_t>(payload_);
  if (kind_ == ValueKind::Bool) return std::get<bool>(payload_) ? 1 : 0;
  if (kind_ == ValueKind::NumpyScalar && numpy_scalar().is_integer()) return numpy_scalar().to_int();
  wrong_kind("int", *this);
}

double Value::as_float() const {
  if (kind_ == ValueKind::Float) return std::get<double>(payload_);
  if (kind_ == ValueKind::Int) return static_cast<double>(std::get<std::int64_t>(payload_));
  if (kind_ == ValueKind::Bool) return std::get<bool>(payload_) ? 1.0 : 0.0;
  if (kind_ == ValueKind::NumpyScalar && (numpy_scalar().is_floating() || numpy_scalar().is_integer()))
    return numpy_scalar().to_double();
  wrong_kind("float", *this);
}

std::complex<double> Value::as_complex() const {
  if (kind_ == ValueKind::Complex) return std::get<std::complex<double>>(payload_);
  return {as_float(), 0.0};
}

const std::string& Value::as_str() const {
  if (kind_ != ValueKind::Str) wrong_kind("str", *this);
  return std::get<std::string>(payload_);
}
const std::string& Value::as_bytes() const {
  if (kind_ != ValueKind::Bytes) wrong_kind("bytes", *this);
  return std::get<std::string>(payload_);
}
const std::string& Value::big_int_text() const {
  if (kind_ != ValueKind::BigInt) wrong_kind("int", *this);
  return std::get<std::string>(payload_);
}
const std::string& Value::device_text() const {
  if (kind_ != ValueKind::Device) wrong_kind("torch.device", *this);
  return std::get<std::string>(payload_);
}

const std::vector<ValuePtr>& Value::items() const {
  if (auto* p = std::get_if<std::vector<ValuePtr>>(&payload_)) return *p;
  wrong_kind("a list, tuple or set", *this);
}
std::vector<ValuePtr>& Value::mutable_items() {
  if (auto* p = std::get_if<std::vector<ValuePtr>>(&payload_)) return *p;
  wrong_kind("a list, tuple or set", *this);
}

#define MEDPORT_VALUE_ACCESSOR(Type, getter, mutable_getter, label) \
  const Type& Value::getter() const {                               \
    if (auto* p = std::get_if<Type>(&payload_)) return *p;          \
    wrong_kind(label, *this);                                       \
  }                                                                 \
  Type& Value::mutable_getter() {                                   \
    if (auto* p = std::get_if<Type>(&payload_)) return *p;          \
    wrong_kind(label, *this);                                       \
  }

MEDPORT_VALUE_ACCESSOR(ObjectData, object_data, mutable_object_data, "an object record")
MEDPORT_VALUE_ACCESSOR(TensorData, tensor_data, mutable_tensor_data, "Tensor")
MEDPORT_VALUE_ACCESSOR(StorageData, storage_data, mutable_storage_data, "a torch storage")
MEDPORT_VALUE_ACCESSOR(NumpyArrayData, numpy_array, mutable_numpy_array, "ndarray")
MEDPORT_VALUE_ACCESSOR(NumpyDTypeData, numpy_dtype, mutable_numpy_dtype, "dtype")
#undef MEDPORT_VALUE_ACCESSOR

const DictData& Value::dict_data() const {
  if (auto* p = std::get_if<DictData>(&payload_)) return *p;
  wrong_kind("dict", *this);
}
const GlobalRef& Value::global_ref() const {
  if (auto* p = std::get_if<GlobalRef>(&payload_)) return *p;
  wrong_kind("a global", *this);
}
const NumpyScalarData& Value::numpy_scalar() const {
  if (auto* p = std::get_if<NumpyScalarData>(&payload_)) return *p;
  wrong_kind("a numpy scalar", *this);
}

std::size_t Value::size() const {
  if (auto* d = std::get_if<DictData>(&payload_)) return d->entries.size();
  if (auto* s = std::get_if<std::vector<ValuePtr>>(&payload_)) return s->size();
  return 0;
}

ValuePtr Value::get(std::string_view key) const {
  const auto& d = dict_data();
  const auto it = d.index.find("s:" + std::string(key));
  return it == d.index.end() ? nullptr : d.entries[it->second].second;
}

const Value& Value::at(std::string_view key) const {
  auto v = get(key);
  if (!v) throw InputError("", "missing key '" + std::string(key) + "'");
  return *v;
}

void Value::set_item(ValuePtr key, ValuePtr value) {
  auto* d = std::get_if<DictData>(&payload_);
  if (!d) wrong_kind("dict", *this);
  raise_nesting(std::max(key->nesting(), value->nesting()));
  auto [it, inserted] = d->index.emplace(hash_key(*key), d->entries.size());
  if (inserted) d->entries.emplace_back(std::move(key), std::move(value));
  else d->entries[it->second].second = std::move(value);
}

void Value::set_attributes(ValuePtr state) {
  auto* d = std::get_if<DictData>(&payload_);
  if (!d) wrong_kind("dict", *this);
  raise_nesting(state->nesting());
  d->attributes = std::move(state);
}

void Value::set_default_factory(ValuePtr factory) {
  auto* d = std::get_if<DictData>(&payload_);
  if (!d) wrong_kind("dict", *this);
  raise_nesting(factory->nesting());
  d->default_factory = std::move(factory);
}

namespace {
constexpr int kMaxKeyDepth = 64;
// Tuples of memoised tuples can describe keys exponentially larger than the pickle.
constexpr std::size_t kMaxKeyBytes = std::size_t{1} << 24;

void hash_key_into(const Value& v, std::string& out, int depth) {
  if (depth > kMaxKeyDepth) throw InputError("", "a dict key is nested too deeply");
  if (out.size() > kMaxKeyBytes) throw InputError("", "a dict key or set element is too large to compare");
  switch (v.kind()) {
    case ValueKind::None: out += "N"; return;
    case ValueKind::Bool: out += v.as_bool() ? "n:1" : "n:0"; return;
    case ValueKind::Int: out += "n:" + std::to_string(v.as_int()); return;
    case ValueKind::BigInt: out += "n:" + v.big_int_text(); return;
    case ValueKind::Float: {
      const double d = v.as_float();
      if (std::isfinite(d) && d == std::trunc(d) && std::abs(d) < 9.2e18) {
        out += "n:" + std::to_string(static_cast<std::int64_t>(d));
      } else {
        out += "f:" + python_float_repr(d);
      }
      return;
    }
    case ValueKind::Complex: {
      const auto c = v.as_complex();
      if (c.imag() == 0.0) {
        hash_key_into(*Value::floating(c.real()), out, depth + 1);
      } else {
        out += "c:" + python_float_repr(c.real()) + "," + python_float_repr(c.imag());
      }
      return;
    }
    case ValueKind::Str: out += "s:" + v.as_str(); return;
    case ValueKind::Bytes:
      if (v.is_bytearray()) break;
      out += "b:" + v.as_bytes();
      return;
    case ValueKind::Tuple:
    case ValueKind::FrozenSet:
      out += v.kind() == ValueKind::Tuple ? "t(" : "F(";
      for (const auto& i : v.items()) {
        hash_key_into(*i, out, depth + 1);
        out += '\x1f';
      }
      out += ")";
      return;
    case ValueKind::NumpyScalar: {
      const auto& s = v.numpy_scalar();
      if (s.is_integer()) out += "n:" + std::to_string(s.to_int());
      else if (s.is_floating()) hash_key_into(*Value::floating(s.to_double()), out, depth + 1);
      else out += "r:" + s.raw;
      return;
    }
    case ValueKind::Global: out += "g:" + v.global_ref().qualified(); return;
    case ValueKind::Device: out += "d:" + v.device_text(); return;
    case ValueKind::NumpyDType: out += "D:" + v.numpy_dtype().name(); return;
    // Objects and tensors hash by identity in Python.
    case ValueKind::Object:
    case ValueKind::Tensor:
    case ValueKind::Storage: {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, reinterpret_cast<std::uintptr_t>(&v), 16);
      out += "p:" + std::string(buf, r.ptr);
      return;
    }
    default: break;
  }
  throw InputError("", "unhashable type '" + v.type_name() + "' used as a dict key or set element");
}
}  // namespace

std::string Value::hash_key(const Value& key) {
  std::string out;
  hash_key_into(key, out, 0);
  return out;
}

// ---- numpy ----------------------------------------------------------------------------------

std::string NumpyDTypeData::name() const {
  const std::string bits = std::to_string(itemsize * 8);
  switch (kind) {
    case 'f': return itemsize == 16 ? "float128" : "float" + bits;
    case 'i': return "int" + bits;
    case 'u': return "uint" + bits;
    case 'b': return "bool";
    case 'c': return "complex" + bits;
    case 'O': return "object";
    case 'S': return "bytes" + bits;
    case 'U': return "str" + bits;
    case 'V': return "void" + bits;
    case 'M': return "datetime64";
    case 'm': return "timedelta64";
    default: return std::string("dtype_") + kind;
  }
}

std::optional<DType> NumpyDTypeData::medport_dtype() const {
  switch (kind) {
    case 'f':
      if (itemsize == 4) return DType::F32;
      if (itemsize == 8) return DType::F64;
      if (itemsize == 2) return DType::F16;
      return std::nullopt;
    case 'i':
      if (itemsize == 8) return DType::I64;
      if (itemsize == 4) return DType::I32;
      if (itemsize == 2) return DType::I16;
      if (itemsize == 1) return DType::I8;
      return std::nullopt;
    case 'u': return itemsize == 1 ? std::optional<DType>(DType::U8) : std::nullopt;
    case 'b': return itemsize == 1 ? std::optional<DType>(DType::Bool) : std::nullopt;
    default: return std::nullopt;
  }
}

namespace {
// The scalar's bytes in little-endian order.
std::string little_endian_bytes(const NumpyScalarData& s) {
  std::string b = s.raw;
  if (s.dtype.byteorder == '>') std::reverse(b.begin(), b.end());
  return b;
}
}  // namespace

double NumpyScalarData::to_double() const {
  if (raw.size() != static_cast<std::size_t>(dtype.itemsize))
    throw InputError("", "numpy scalar of dtype " + dtype.name() + " holds " + std::to_string(raw.size()) + " bytes");
  const std::string b = little_endian_bytes(*this);
  if (dtype.kind == 'f') {
    if (dtype.itemsize == 8) { double v; std::memcpy(&v, b.data(), 8); return v; }
    if (dtype.itemsize == 4) { float v; std::memcpy(&v, b.data(), 4); return v; }
    if (dtype.itemsize == 2) { std::uint16_t h; std::memcpy(&h, b.data(), 2); return half_to_float(h); }
  }
  if (dtype.kind == 'i' || dtype.kind == 'b') return static_cast<double>(to_int());
  if (dtype.kind == 'u') {
    std::uint64_t u = 0;
    for (std::size_t i = b.size(); i-- > 0;) u = (u << 8) | static_cast<unsigned char>(b[i]);
    return static_cast<double>(u);
  }
  throw InputError("", "numpy scalar of dtype " + dtype.name() + " is not a real number");
}

std::int64_t NumpyScalarData::to_int() const {
  if (raw.size() != static_cast<std::size_t>(dtype.itemsize) || dtype.itemsize > 8 || dtype.itemsize < 1 ||
      !(dtype.kind == 'i' || dtype.kind == 'u' || dtype.kind == 'b'))
    throw InputError("", "numpy scalar of dtype " + dtype.name() + " is not an integer");
  const std::string b = little_endian_bytes(*this);
  std::uint64_t u = 0;
  for (std::size_t i = b.size(); i-- > 0;) u = (u << 8) | static_cast<unsigned char>(b[i]);
  if (dtype.kind == 'i' && b.size() < 8 && (u >> (8 * b.size() - 1)) & 1u) u |= ~std::uint64_t{0} << (8 * b.size());
  if (dtype.kind == 'u' && b.size() == 8 && u > static_cast<std::uint64_t>(INT64_MAX))
    throw InputError("", "numpy uint64 scalar does not fit in int64");
  return static_cast<std::int64_t>(u);
}

// ---- Python formatting ----------------------------------------------------------------------

std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  if (v == 0.0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string s(buf, r.ptr);  // "-d.ddde+XX"
  const auto e_pos = s.find('e');
  const bool negative = s[0] == '-';
  std::string digits;
  for (std::size_t i = negative ? 1 : 0; i < e_pos; ++i)
    if (s[i] != '.') digits += s[i];
  const int exponent = std::stoi(s.substr(e_pos + 1));
  std::string out = negative ? "-" : "";
  if (exponent >= -5 + 1 && exponent < 16) {  // Python switches to exponent form below 1e-4
    if (exponent >= 0) {
      const std::size_t int_len = static_cast<std::size_t>(exponent) + 1;
      if (digits.size() <= int_len) {
        out += digits + std::string(int_len - digits.size(), '0') + ".0";
      } else {
        out += digits.substr(0, int_len) + "." + digits.substr(int_len);
      }
    } else {
      out += "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + ebuf;
}

std::string key_to_path_part(const Value& key) {
  if (key.is(ValueKind::Str)) return key.as_str();
  return key.repr(200);
}

}  // namespace medport::ckpt
