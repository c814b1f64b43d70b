#pragma once
// Python objects as an unpickled checkpoint holds them, without any Python.
//
// Values have reference semantics (ValuePtr = shared_ptr): the pickle memo shares one object
// between several places, and opcodes such as SETITEMS, APPENDS and BUILD mutate it after it was
// memoised. Nothing here is ever executed: a Global is a (module, name) pair and an Object is an
// inert record of the class it claims to be, its arguments and its state.
//
// Graphs returned by medport::ckpt::unpickle are acyclic and at most PickleLimits::max_depth
// deep; destroying a value never recurses, however deep it is.
#include <complex>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "medport/dtype.hpp"
#include "medport/tensor.hpp"

namespace medport::ckpt {

class Value;
using ValuePtr = std::shared_ptr<Value>;

enum class ValueKind : std::uint8_t {
  None, Bool, Int, BigInt, Float, Complex, Str, Bytes,
  List, Tuple, Dict, Set, FrozenSet, Slice,
  Global, Object,
  Tensor, Storage, NumpyScalar, NumpyArray, NumpyDType, Device,
};

// Python's name for a kind in messages ("list", "dict", ...), without flavours.
std::string_view kind_name(ValueKind kind);

// Which Python class a Dict value was built as.
enum class DictFlavor : std::uint8_t { Plain, OrderedDict, DefaultDict };

struct DictData {
  DictFlavor flavor = DictFlavor::Plain;
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // insertion order
  ValuePtr default_factory;  // defaultdict only (an inert Global, never called)
  ValuePtr attributes;       // BUILD state (e.g. a state dict's `_metadata`), null if none
  std::unordered_map<std::string, std::size_t> index;  // hash_key() -> position in entries
};

// A module-level name the pickle referred to. `builtin` >= 0 when medport knows how to emulate
// calling it (an allow-listed constructor); -1 for every other name, which stays inert.
struct GlobalRef {
  std::string module;
  std::string name;
  int builtin = -1;
  std::string qualified() const { return module + "." + name; }
};

// An inert record: an instance of an allow-listed record type (argparse.Namespace,
// pathlib.PosixPath, numpy's RNG constructors, ...) that is described, never constructed.
struct ObjectData {
  GlobalRef type;
  ValuePtr args;                       // tuple of constructor arguments
  ValuePtr state;                      // BUILD state, null if none
  std::vector<ValuePtr> list_items;    // APPEND(S) applied to the object
  std::vector<std::pair<ValuePtr, ValuePtr>> dict_items;  // SETITEM(S) applied to the object
};

// A torch storage named by a persistent id: ('storage', FloatStorage, key, location, numel).
// `bytes` is filled by the checkpoint loader (null while only the pickle has been read).
struct StorageData {
  std::string key;
  DType dtype = DType::U8;
  std::string type_name;   // "FloatStorage", "UntypedStorage", ...
  std::string location;    // "cpu", "cuda:0"
  std::int64_t numel = 0;  // elements claimed by the persistent id
  std::shared_ptr<const Storage> bytes;
};

// A torch tensor: a view (offset, shape, strides in elements) of a Storage value. `tensor` is
// defined once the loader has bound the view to the storage's bytes (bounds are checked then).
struct TensorData {
  ValuePtr storage;  // kind Storage
  std::int64_t offset = 0;
  Shape shape;
  Shape strides;
  bool requires_grad = false;
  bool is_parameter = false;  // torch.nn.Parameter
  medport::Tensor tensor;
};

// numpy.dtype as numpy pickles it: kind character ('f', 'i', 'u', 'b', 'c', 'O', 'S', 'U', 'V',
// 'M', 'm'), item size in bytes and byte order ('<', '>', '|').
struct NumpyDTypeData {
  char kind = 'f';
  std::int64_t itemsize = 8;
  char byteorder = '<';
  // numpy's dtype name: "float32", "int64", "bool", "complex128", "bytes40", "str64", "object"...
  std::string name() const;
  // The medport dtype with the same element layout, if any.
  std::optional<DType> medport_dtype() const;
};

// numpy scalar (np.float32(0.5), np.int64(3), ...): its dtype and its raw element bytes.
struct NumpyScalarData {
  NumpyDTypeData dtype;
  std::string raw;  // itemsize bytes in the dtype's byte order
  bool is_integer() const { return dtype.kind == 'i' || dtype.kind == 'u'; }
  bool is_floating() const { return dtype.kind == 'f'; }
  // The value converted (throws InputError for non-numeric dtypes, or unsupported sizes).
  double to_double() const;
  std::int64_t to_int() const;
};

// numpy.ndarray: `tensor` holds the elements (C order) when the dtype has a medport equivalent;
// otherwise `raw` keeps the bytes (C order) or `objects` the elements of an object array.
struct NumpyArrayData {
  NumpyDTypeData dtype;
  Shape shape;
  medport::Tensor tensor;
  std::string raw;
  ValuePtr objects;  // list, object arrays only
};

class Value {
 public:
  using Payload = std::variant<std::monostate, bool, std::int64_t, double, std::complex<double>, std::string,
                               std::vector<ValuePtr>, DictData, GlobalRef, ObjectData, TensorData, StorageData,
                               NumpyScalarData, NumpyArrayData, NumpyDTypeData>;

  Value(ValueKind kind, Payload payload) : kind_(kind), payload_(std::move(payload)) {}
  ~Value();  // iterative: never recurses into deeply nested children
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  // Constructors.
  static ValuePtr none();
  static ValuePtr boolean(bool v);
  static ValuePtr integer(std::int64_t v);
  static ValuePtr big_integer(std::string text);  // decimal ("-123...") or hex ("0x1f...") text
  static ValuePtr floating(double v);
  static ValuePtr complex(std::complex<double> v);
  static ValuePtr str(std::string utf8);
  static ValuePtr bytes(std::string data, bool bytearray = false);
  static ValuePtr list(std::vector<ValuePtr> items = {});
  static ValuePtr tuple(std::vector<ValuePtr> items = {});
  static ValuePtr dict(DictFlavor flavor = DictFlavor::Plain);
  static ValuePtr set(std::vector<ValuePtr> items = {}, bool frozen = false);  // deduplicates
  static ValuePtr slice(ValuePtr start, ValuePtr stop, ValuePtr step);
  static ValuePtr global(GlobalRef ref);
  static ValuePtr object(ObjectData data);
  static ValuePtr tensor(TensorData data);
  static ValuePtr storage(StorageData data);
  static ValuePtr numpy_scalar(NumpyScalarData data);
  static ValuePtr numpy_array(NumpyArrayData data);
  static ValuePtr numpy_dtype(NumpyDTypeData data);
  static ValuePtr device(std::string text);  // "cpu", "cuda", "cuda:0"

  ValueKind kind() const { return kind_; }
  bool is(ValueKind k) const { return kind_ == k; }
  bool is_none() const { return kind_ == ValueKind::None; }
  bool is_bytearray() const { return kind_ == ValueKind::Bytes && bytearray_; }

  // Python-like type name: "dict", "OrderedDict", "defaultdict", "list", "tuple", "int",
  // "float", "complex", "str", "bytes", "bytearray", "bool", "NoneType", "set", "frozenset",
  // "slice", "type" (a Global; "torch.dtype" for torch.float32 and friends), "module.Name" (an
  // Object), "Tensor", "Parameter", "FloatStorage"..., numpy scalars by dtype name ("float32"),
  // "ndarray", "dtype", "torch.device".
  std::string type_name() const;
  // Short display form, truncated to about `max_chars` characters ("..." marks the cut).
  std::string repr(std::size_t max_chars = 120) const;

  // Typed accessors; each throws InputError("expected X, got Y") on the wrong kind.
  bool as_bool() const;                  // Bool (and numpy bool scalars)
  std::int64_t as_int() const;           // Int, Bool, numpy integer scalars
  double as_float() const;               // Float, Int, Bool, numpy integer/float scalars
  std::complex<double> as_complex() const;
  const std::string& as_str() const;     // Str
  const std::string& as_bytes() const;   // Bytes / bytearray
  const std::string& big_int_text() const;  // BigInt
  const std::string& device_text() const;   // Device
  // Elements of List, Tuple, Set, FrozenSet and Slice (start, stop, step).
  const std::vector<ValuePtr>& items() const;
  std::vector<ValuePtr>& mutable_items();
  const DictData& dict_data() const;
  const GlobalRef& global_ref() const;
  const ObjectData& object_data() const;
  ObjectData& mutable_object_data();
  const TensorData& tensor_data() const;
  TensorData& mutable_tensor_data();
  const StorageData& storage_data() const;
  StorageData& mutable_storage_data();
  const NumpyScalarData& numpy_scalar() const;
  const NumpyArrayData& numpy_array() const;
  NumpyArrayData& mutable_numpy_array();
  const NumpyDTypeData& numpy_dtype() const;
  NumpyDTypeData& mutable_numpy_dtype();

  // Dicts: number of entries, lookup by string key (nullptr when absent), checked lookup.
  std::size_t size() const;  // entries of a Dict, elements of a sequence, 0 otherwise
  ValuePtr get(std::string_view key) const;
  const Value& at(std::string_view key) const;  // throws InputError naming the missing key
  bool contains(std::string_view key) const { return get(key) != nullptr; }
  // Inserts or replaces (Python semantics: an existing equal key keeps its position).
  // Throws InputError for unhashable keys (list, dict, set, ...).
  void set_item(ValuePtr key, ValuePtr value);
  void set_attributes(ValuePtr state);  // Dict BUILD state
  void set_default_factory(ValuePtr factory);  // defaultdict

  // Canonical form of a hashable key: equal for values Python considers equal keys
  // (1 == 1.0 == True, equal tuples...). Throws InputError for unhashable values.
  static std::string hash_key(const Value& key);

  // Nesting estimate maintained by the unpickler (containers start at 1).
  std::uint32_t nesting() const { return nesting_; }
  void raise_nesting(std::uint32_t child_nesting) {
    if (child_nesting + 1 > nesting_) nesting_ = child_nesting + 1;
  }

  // Appends every value this one refers to (items, keys and values, args, state, storage...).
  void collect_children(std::vector<const Value*>& out) const;
  // Moves every child reference out of this value into `out` (used for teardown).
  void release_children(std::vector<ValuePtr>& out);

 private:
  ValueKind kind_;
  bool bytearray_ = false;
  std::uint32_t nesting_ = 0;
  Payload payload_;
};

// Python's str() of a simple value as used in dotted paths: str keys verbatim, ints in
// decimal, tuples as "(1, 2)", floats like Python's repr.
std::string key_to_path_part(const Value& key);
// Python repr() of a double ("0.001", "2.0", "1e-05", "inf", "nan").
std::string python_float_repr(double v);

}  // namespace medport::ckpt
