#pragma once
// Pieces of the pickle machine shared between its files (not a public header).
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "medport/tensor.hpp"

#include "medport/checkpoint/pickle.hpp"

namespace medport::ckpt::detail {

// What the emulated constructors need from the running machine: where it is (for messages) and
// the running totals that the limits bound.
struct PickleContext {
  const UnpickleOptions* options = nullptr;
  std::size_t offset = 0;        // byte offset of the opcode being executed
  std::string_view opcode;       // its name
  std::size_t elements = 0;      // container elements created so far
  std::size_t string_bytes = 0;  // str/bytes payload created so far
  std::vector<ValuePtr> mutable_containers;  // everything that could close a reference cycle
  std::size_t tracked_after_prune = 0;

  [[noreturn]] void fail(const std::string& what) const;
  // Refuses to call (or build a tensor from) a name medport never executes.
  [[noreturn]] void refuse_call(const std::string& qualified_name) const;
  [[noreturn]] void refuse_tensor_dependency(const std::string& qualified_name) const;
  // A GLOBAL / STACK_GLOBAL naming anything but an allow-listed global or an inert record type,
  // never called: refused all the same (reported at the opcode that named it).
  [[noreturn]] void refuse_reference(const std::string& qualified_name) const;
  void count_elements(std::size_t n);
  void count_string_bytes(std::size_t n);
  void check_nesting(const Value& container) const;
  // Records a mutable container (list, dict, set, object, ndarray) for teardown on failure.
  ValuePtr track(ValuePtr v);
};

// The medport dtype of a torch storage class global (torch.FloatStorage -> F32,
// torch.UntypedStorage -> U8, ...), nullopt for anything else.
std::optional<DType> storage_class_dtype(const GlobalRef& g);

// Ids of the allow-listed globals (GlobalRef::builtin); -1 for every other name.
enum Builtin : int {
  kRebuildTensor, kRebuildTensorV2, kRebuildParameter, kRebuildParameterWithState, kRebuildFromTypeV2,
  kParameter, kTensorClass, kTorchSize, kStorageClass, kTorchDType, kTorchDevice,
  kOrderedDict, kDefaultDict,
  kNumpyScalar, kNumpyDType, kNumpyReconstruct, kNumpyNdarray, kNumpyFromBuffer,
  kCodecsEncode,
  kSet, kFrozenSet, kSlice, kComplex, kBytearray, kBytes, kList, kDict, kTuple, kInt, kFloat, kBool, kStr, kObject,
  kCopyregReconstructor, kCopyregNewobj, kCopyregNewobjEx,
};

// Allow-listed names get a builtin id (>= 0); every other name stays inert (-1).
GlobalRef resolve_global(std::string module, std::string name);

// REDUCE / INST / OBJ: calling `callee` with the positional arguments in `args` (a tuple).
ValuePtr call_global(const ValuePtr& callee, const ValuePtr& args, PickleContext& ctx);
// NEWOBJ / NEWOBJ_EX: cls.__new__(cls, *args, **kwargs); kwargs may be null.
ValuePtr new_object(const ValuePtr& cls, const ValuePtr& args, const ValuePtr& kwargs, PickleContext& ctx);
// BUILD: applies `state` to `target` (dict attributes, object state, numpy dtype/array state).
void apply_build(const ValuePtr& target, const ValuePtr& state, PickleContext& ctx);

// The emulated constructors by family (pickle_torch.cpp, pickle_numpy.cpp).
ValuePtr call_torch_builtin(const GlobalRef& g, const std::vector<ValuePtr>& args, PickleContext& ctx);
ValuePtr call_numpy_builtin(const GlobalRef& g, const std::vector<ValuePtr>& args, PickleContext& ctx);
void build_numpy_dtype(Value& target, const ValuePtr& state, PickleContext& ctx);
void build_numpy_array(Value& target, const ValuePtr& state, PickleContext& ctx);

// ---- argument checks (pickle_args.cpp) ------------------------------------------------------

// The positional arguments of a call: `args` must be a tuple.
const std::vector<ValuePtr>& positional(const ValuePtr& args, const GlobalRef& g, PickleContext& ctx);
void expect_count(const std::vector<ValuePtr>& args, std::size_t lo, std::size_t hi, const GlobalRef& g,
                  PickleContext& ctx);
std::int64_t int_arg(const ValuePtr& v, const char* what, const GlobalRef& g, PickleContext& ctx);
Shape int_sequence(const ValuePtr& v, const char* what, const GlobalRef& g, PickleContext& ctx);
// Refuses (naming it) any non-allow-listed Global or inert Object reachable from the arguments.
void refuse_foreign_dependencies(const std::vector<ValuePtr>& args, PickleContext& ctx);
// The elements Python would iterate over (sequence items, dict keys, characters, byte values).
std::vector<ValuePtr> iterable_items(const ValuePtr& v, const GlobalRef& g, PickleContext& ctx);
// str.encode(encoding) for utf-8 and latin-1.
std::string encode_text(const std::string& text, const std::string& encoding, const GlobalRef& g, PickleContext& ctx);
bool truthy(const Value& v);

// ---- text and number forms (pickle_text.cpp) ------------------------------------------------

// Decimal integer text as INT/LONG carry it ("-12", "123L"); Int when it fits int64, else BigInt.
// Throws std::invalid_argument on malformed text.
ValuePtr parse_decimal_integer(std::string_view text);
// Little-endian two's complement bytes (LONG1/LONG4) as Int or BigInt (decimal text up to 64
// bytes, hex text "0x..." beyond).
ValuePtr integer_from_le_bytes(std::span<const unsigned char> bytes);
// Python 2 str literal as protocol 0 writes it ('abc\n' or "a'b"), escapes decoded.
std::string decode_python2_string_literal(std::string_view quoted);
// raw-unicode-escape (protocol 0 UNICODE) to UTF-8.
std::string decode_raw_unicode_escape(std::string_view text);
bool is_valid_utf8(std::string_view text);
void append_utf8(std::string& out, std::uint32_t code_point);
// Code points of UTF-8 text; throws std::invalid_argument on malformed input.
std::vector<std::uint32_t> utf8_code_points(std::string_view text);

}  // namespace medport::ckpt::detail
