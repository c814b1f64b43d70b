#pragma once
// A pickle reader that never executes anything (protocols 0-5, every CPython opcode).
//
// GLOBAL/STACK_GLOBAL only resolve an allow-list of data constructors that medport emulates
// (torch tensor/parameter rebuild functions and storage classes, collections.OrderedDict and
// defaultdict, numpy scalars/dtypes/arrays, _codecs.encode, torch.device, harmless builtins such
// as set, frozenset, slice, complex, bytearray). Any other name becomes an inert Global value;
// calling it (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ) is refused with an InputError naming it,
// except for the inert record types of kInertRecordTypes, which become Object values.
//
// The machine is iterative (no recursion on input depth) and bounded by PickleLimits; every
// length field is checked against the bytes actually remaining before anything is allocated.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "medport/checkpoint/value.hpp"

namespace medport::ckpt {

struct PickleLimits {
  std::size_t max_depth = 1000;                   // container nesting
  std::size_t max_stack = 1'000'000;              // values on the stack, marks included
  std::size_t max_memo = 10'000'000;              // memo entries
  std::size_t max_elements = 100'000'000;         // container elements created in total
  std::size_t max_string_bytes = std::size_t{1} << 32;  // str/bytes payload in total
  std::size_t max_int_bytes = 1 << 16;            // one LONG / LONG1 / LONG4 integer
};

// Maps a persistent id (PERSID: a str value; BINPERSID: any value) to the object it stands for.
using PersistentLoader = std::function<ValuePtr(const ValuePtr& pid)>;

struct UnpickleOptions {
  std::string source;               // names the input in error messages
  PickleLimits limits;
  PersistentLoader persistent_load;  // empty: persistent ids are refused
};

struct UnpickleResult {
  ValuePtr value;
  std::size_t consumed = 0;  // bytes up to and including STOP
  int protocol = 0;          // the PROTO opcode's argument, 0 if none
};

// Reads one pickle from the start of `data`. Throws InputError naming `options.source`, the
// byte offset and the problem. The result is acyclic and at most limits.max_depth deep.
UnpickleResult unpickle(std::span<const std::byte> data, const UnpickleOptions& options);

// Record types that may be "called" because medport only describes them (Object values): they
// appear in real training checkpoints and hold plain data. The list: argparse.Namespace,
// types.SimpleNamespace, pathlib.{Path, PosixPath, WindowsPath, PurePosixPath, PureWindowsPath},
// numpy.random._pickle.{__randomstate_ctor, __bit_generator_ctor, __generator_ctor},
// datetime.{datetime, date, time, timedelta, timezone}. copyreg._reconstructor / __newobj__ /
// __newobj_ex__ are accepted for these types only.
extern const std::span<const std::string_view> kInertRecordTypes;
bool is_inert_record_type(std::string_view module, std::string_view name);

}  // namespace medport::ckpt
