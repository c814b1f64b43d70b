// The opcode loop of the pickle reader: a stack machine over Values, iterative and bounded.
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "medport/error.hpp"
#include "pickle_internal.hpp"

namespace medport::ckpt {
namespace detail {

void PickleContext::fail(const std::string& what) const {
  const std::string where = opcode == "?" ? "pickle data" : "pickle opcode " + std::string(opcode);
  throw InputError(options->source, where + " at byte " + std::to_string(offset) + ": " + what);
}

void PickleContext::refuse_call(const std::string& name) const {
  throw InputError(options->source, "the pickle calls " + name +
                                        ", which medport never executes; refusing the file (opcode " +
                                        std::string(opcode) + " at byte " + std::to_string(offset) + ")");
}

void PickleContext::refuse_reference(const std::string& name) const {
  throw InputError(options->source, "the pickle refers to " + name +
                                        ", which medport never imports or executes; refusing the file (opcode " +
                                        std::string(opcode) + " at byte " + std::to_string(offset) + ")");
}

void PickleContext::refuse_tensor_dependency(const std::string& name) const {
  throw InputError(options->source, "a tensor's construction depends on " + name +
                                        ", which medport never executes; refusing the file (opcode " +
                                        std::string(opcode) + " at byte " + std::to_string(offset) + ")");
}

void PickleContext::count_elements(std::size_t n) {
  elements += n;
  if (elements > options->limits.max_elements)
    fail("more than " + std::to_string(options->limits.max_elements) + " container elements in total");
}

void PickleContext::count_string_bytes(std::size_t n) {
  string_bytes += n;
  if (string_bytes > options->limits.max_string_bytes)
    fail("more than " + std::to_string(options->limits.max_string_bytes) + " bytes of strings in total");
}

void PickleContext::check_nesting(const Value& container) const {
  if (container.nesting() > options->limits.max_depth)
    fail("containers nested deeper than " + std::to_string(options->limits.max_depth) + " levels");
}

ValuePtr PickleContext::track(ValuePtr v) {
  // Drop the records of containers nothing else holds any more, so that tracking costs memory
  // in proportion to what is alive (amortised: only when the list has doubled).
  if (mutable_containers.size() >= 1024 && mutable_containers.size() >= 2 * tracked_after_prune) {
    std::erase_if(mutable_containers, [](const ValuePtr& c) { return c.use_count() == 1; });
    tracked_after_prune = mutable_containers.size();
  }
  mutable_containers.push_back(v);
  return v;
}

}  // namespace detail

namespace {

using detail::PickleContext;

const char* opcode_name(unsigned char op) {
  switch (op) {
    case '(': return "MARK";
    case '.': return "STOP";
    case '0': return "POP";
    case '1': return "POP_MARK";
    case '2': return "DUP";
    case 'F': return "FLOAT";
    case 'I': return "INT";
    case 'J': return "BININT";
    case 'K': return "BININT1";
    case 'L': return "LONG";
    case 'M': return "BININT2";
    case 'N': return "NONE";
    case 'P': return "PERSID";
    case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";
    case 'S': return "STRING";
    case 'T': return "BINSTRING";
    case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";
    case 'X': return "BINUNICODE";
    case 'a': return "APPEND";
    case 'b': return "BUILD";
    case 'c': return "GLOBAL";
    case 'd': return "DICT";
    case '}': return "EMPTY_DICT";
    case 'e': return "APPENDS";
    case 'g': return "GET";
    case 'h': return "BINGET";
    case 'i': return "INST";
    case 'j': return "LONG_BINGET";
    case 'l': return "LIST";
    case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";
    case 'p': return "PUT";
    case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";
    case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";
    case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES";
    case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1";
    case 0x83: return "EXT2";
    case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";
    case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";
    case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return nullptr;
  }
}

class Machine {
 public:
  Machine(std::span<const std::byte> data, const UnpickleOptions& options)
      : data_(reinterpret_cast<const unsigned char*>(data.data())), size_(data.size()) {
    ctx_.options = &options;
    ctx_.opcode = "(start)";
  }

  UnpickleResult run();
  // Breaks every reference the partial graph holds so that cycles cannot leak.
  void tear_down();

 private:
  const PickleLimits& limits() const { return ctx_.options->limits; }
  std::size_t remaining() const { return size_ - pos_; }
  void need(std::uint64_t n, const char* what) {
    if (n > remaining())
      ctx_.fail(std::string(what) + " of " + std::to_string(n) + " bytes runs past the end of the data (" +
                std::to_string(remaining()) + " bytes left; truncated file?)");
  }
  std::uint64_t read_le(std::size_t n) {
    need(n, "argument");
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | data_[pos_ + i];
    pos_ += n;
    return v;
  }
  std::string_view read_bytes(std::uint64_t n, const char* what) {
    need(n, what);
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }
  std::string_view read_line() {
    const void* nl = std::memchr(data_ + pos_, '\n', remaining());
    if (!nl) ctx_.fail("text argument has no terminating newline (truncated file?)");
    const std::size_t len = static_cast<std::size_t>(static_cast<const unsigned char*>(nl) - (data_ + pos_));
    std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len + 1;
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
  }

  // Stack.
  std::size_t frame_base() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(ValuePtr v) {
    if (stack_.size() + marks_.size() >= limits().max_stack)
      ctx_.fail("more than " + std::to_string(limits().max_stack) + " values on the stack");
    stack_.push_back(std::move(v));
  }
  ValuePtr pop() {
    if (stack_.size() <= frame_base()) ctx_.fail("stack underflow (malformed pickle)");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.size() <= frame_base()) ctx_.fail("stack underflow (malformed pickle)");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) ctx_.fail("no MARK on the stack (malformed pickle)");
    const std::size_t base = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(base)),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(base);
    return items;
  }

  ValuePtr make_string(std::string_view s, bool as_bytes, bool bytearray = false) {
    ctx_.count_string_bytes(s.size());
    if (as_bytes) return Value::bytes(std::string(s), bytearray);
    if (!detail::is_valid_utf8(s)) ctx_.fail("text is not valid UTF-8");
    return Value::str(std::string(s));
  }
  std::string read_name_line() {
    const auto line = read_line();
    if (!detail::is_valid_utf8(line)) ctx_.fail("global name is not valid UTF-8");
    return std::string(line);
  }
  // The global a GLOBAL / STACK_GLOBAL names. A name that is neither allow-listed nor an inert
  // record type is refused when called (REDUCE, NEWOBJ...) and, if the pickle only names it, at
  // STOP (the first such name, where it was named).
  GlobalRef named_global(const std::string& module, const std::string& name) {
    GlobalRef g = detail::resolve_global(module, name);
    if (g.builtin < 0 && !is_inert_record_type(g.module, g.name) && !foreign_global_)
      foreign_global_ = ForeignGlobal{g.qualified(), ctx_.offset, ctx_.opcode};
    return g;
  }
  // Python 2 str: text when it is valid UTF-8 (torch.load's default encoding), bytes otherwise.
  ValuePtr make_python2_string(std::string s) {
    ctx_.count_string_bytes(s.size());
    if (detail::is_valid_utf8(s)) return Value::str(std::move(s));
    return Value::bytes(std::move(s));
  }
  ValuePtr make_tuple(std::vector<ValuePtr> items) {
    ctx_.count_elements(items.size());
    auto t = Value::tuple(std::move(items));
    ctx_.check_nesting(*t);
    return t;
  }
  void add_child(Value& container, const ValuePtr& child) {
    container.raise_nesting(child->nesting());
    ctx_.check_nesting(container);
  }

  void memo_put(std::uint64_t key) {
    if (memo_.size() >= limits().max_memo && !memo_.count(key))
      ctx_.fail("more than " + std::to_string(limits().max_memo) + " memo entries");
    memo_[key] = top();
  }
  void memo_get(std::uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) ctx_.fail("memo key " + std::to_string(key) + " was never stored");
    push(it->second);
  }
  std::uint64_t parse_memo_key(std::string_view line) {
    auto v = parse_int_text(line);
    if (!v->is(ValueKind::Int) || v->as_int() < 0) ctx_.fail("invalid memo key '" + std::string(line) + "'");
    return static_cast<std::uint64_t>(v->as_int());
  }
  ValuePtr parse_int_text(std::string_view text) {
    if (text.size() > limits().max_int_bytes * 3) ctx_.fail("integer text longer than the limit");
    try {
      return detail::parse_decimal_integer(text);
    } catch (const std::invalid_argument&) {
      ctx_.fail("invalid integer text '" + std::string(text.substr(0, 40)) + "'");
    }
  }

  void append_items(std::vector<ValuePtr> items);
  void set_items(std::vector<ValuePtr> items);
  void add_items(std::vector<ValuePtr> items);
  ValuePtr persistent_load(ValuePtr pid);
  void step(unsigned char op);

  const unsigned char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  int protocol_ = 0;
  bool stopped_ = false;
  struct ForeignGlobal {
    std::string name;
    std::size_t offset;
    std::string_view opcode;
  };
  std::optional<ForeignGlobal> foreign_global_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ValuePtr> memo_;
  PickleContext ctx_;
};

void Machine::append_items(std::vector<ValuePtr> items) {
  ValuePtr target = top();
  ctx_.count_elements(items.size());
  if (target->is(ValueKind::List)) {
    for (const auto& i : items) add_child(*target, i);
    auto& dst = target->mutable_items();
    dst.insert(dst.end(), std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
  } else if (target->is(ValueKind::Object)) {
    for (const auto& i : items) add_child(*target, i);
    auto& dst = target->mutable_object_data().list_items;
    dst.insert(dst.end(), std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
  } else {
    ctx_.fail("cannot append to a " + target->type_name());
  }
}

void Machine::set_items(std::vector<ValuePtr> items) {
  if (items.size() % 2 != 0) ctx_.fail("odd number of items for a dict");
  ValuePtr target = top();
  ctx_.count_elements(items.size());
  if (target->is(ValueKind::Dict)) {
    for (std::size_t i = 0; i < items.size(); i += 2) {
      try {
        target->set_item(items[i], items[i + 1]);
      } catch (const InputError& e) {
        ctx_.fail(e.what());
      }
      ctx_.check_nesting(*target);
    }
  } else if (target->is(ValueKind::Object)) {
    auto& dst = target->mutable_object_data().dict_items;
    for (std::size_t i = 0; i < items.size(); i += 2) {
      add_child(*target, items[i]);
      add_child(*target, items[i + 1]);
      dst.emplace_back(items[i], items[i + 1]);
    }
  } else {
    ctx_.fail("cannot set items on a " + target->type_name());
  }
}

void Machine::add_items(std::vector<ValuePtr> items) {
  ValuePtr target = top();
  if (!target->is(ValueKind::Set)) ctx_.fail("cannot add items to a " + target->type_name());
  ctx_.count_elements(items.size());
  auto& dst = target->mutable_items();
  std::unordered_map<std::string, bool> seen;
  try {
    for (const auto& e : dst) seen.emplace(Value::hash_key(*e), true);
    for (auto& i : items) {
      if (!seen.emplace(Value::hash_key(*i), true).second) continue;
      add_child(*target, i);
      dst.push_back(std::move(i));
    }
  } catch (const InputError& e) {
    ctx_.fail(e.what());
  }
}

ValuePtr Machine::persistent_load(ValuePtr pid) {
  if (!ctx_.options->persistent_load)
    ctx_.fail("the pickle refers to external data (persistent id " + pid->repr(60) +
              ") but this file format has no storages");
  try {
    return ctx_.options->persistent_load(pid);
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    ctx_.fail(std::string("persistent id ") + pid->repr(60) + ": " + e.what());
  }
}

void Machine::step(unsigned char op) {
  switch (op) {
    case 0x80: {  // PROTO
      const auto v = read_le(1);
      if (v > 5) ctx_.fail("unsupported pickle protocol " + std::to_string(v));
      protocol_ = static_cast<int>(v);
      break;
    }
    case 0x95: {  // FRAME: framing only groups opcodes; the length must still be honest
      const auto n = read_le(8);
      need(n, "frame");
      break;
    }
    case '.': stopped_ = true; break;
    case '(':
      if (stack_.size() + marks_.size() >= limits().max_stack)
        ctx_.fail("more than " + std::to_string(limits().max_stack) + " values on the stack");
      marks_.push_back(stack_.size());
      break;
    case '0':  // POP: an empty frame pops its mark instead (as CPython does)
      if (stack_.size() > frame_base()) stack_.pop_back();
      else if (!marks_.empty()) marks_.pop_back();
      else ctx_.fail("stack underflow (malformed pickle)");
      break;
    case '1': pop_mark(); break;
    case '2': push(top()); break;

    // Numbers.
    case 'I': {
      const auto line = read_line();
      if (line == "00") push(Value::boolean(false));
      else if (line == "01") push(Value::boolean(true));
      else push(parse_int_text(line));
      break;
    }
    case 'J': push(Value::integer(static_cast<std::int32_t>(static_cast<std::uint32_t>(read_le(4))))); break;
    case 'K': push(Value::integer(static_cast<std::int64_t>(read_le(1)))); break;
    case 'M': push(Value::integer(static_cast<std::int64_t>(read_le(2)))); break;
    case 'L': push(parse_int_text(read_line())); break;
    case 0x8a:
    case 0x8b: {  // LONG1 / LONG4
      const std::uint64_t n = op == 0x8a ? read_le(1) : read_le(4);
      if (op == 0x8b && n > 0x7fffffffu) ctx_.fail("negative LONG4 byte count");
      if (n > limits().max_int_bytes) ctx_.fail("integer of " + std::to_string(n) + " bytes exceeds the limit");
      const auto bytes = read_bytes(n, "integer");
      push(detail::integer_from_le_bytes(
          {reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}));
      break;
    }
    case 'F': {
      const std::string line(read_line());
      char* end = nullptr;
      const double v = std::strtod(line.c_str(), &end);
      if (line.empty() || end != line.c_str() + line.size()) ctx_.fail("invalid float text '" + line.substr(0, 40) + "'");
      push(Value::floating(v));
      break;
    }
    case 'G': {
      need(8, "float");
      std::uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | data_[pos_ + static_cast<std::size_t>(i)];  // big-endian
      pos_ += 8;
      double v;
      std::memcpy(&v, &bits, 8);
      push(Value::floating(v));
      break;
    }
    case 'N': push(Value::none()); break;
    case 0x88: push(Value::boolean(true)); break;
    case 0x89: push(Value::boolean(false)); break;

    // Strings and bytes.
    case 'S': {
      std::string decoded;
      try {
        decoded = detail::decode_python2_string_literal(read_line());
      } catch (const std::invalid_argument& e) {
        ctx_.fail(e.what());
      }
      push(make_python2_string(std::move(decoded)));
      break;
    }
    case 'T':
    case 'U': {
      const std::uint64_t n = op == 'T' ? read_le(4) : read_le(1);
      if (op == 'T' && n > 0x7fffffffu) ctx_.fail("negative BINSTRING length");
      push(make_python2_string(std::string(read_bytes(n, "string"))));
      break;
    }
    case 'V': {
      std::string decoded;
      try {
        decoded = detail::decode_raw_unicode_escape(read_line());
      } catch (const std::invalid_argument& e) {
        ctx_.fail(e.what());
      }
      push(make_string(decoded, false));
      break;
    }
    case 'X': push(make_string(read_bytes(read_le(4), "string"), false)); break;
    case 0x8c: push(make_string(read_bytes(read_le(1), "string"), false)); break;
    case 0x8d: push(make_string(read_bytes(read_le(8), "string"), false)); break;
    case 'B': push(make_string(read_bytes(read_le(4), "bytes"), true)); break;
    case 'C': push(make_string(read_bytes(read_le(1), "bytes"), true)); break;
    case 0x8e: push(make_string(read_bytes(read_le(8), "bytes"), true)); break;
    case 0x96: push(ctx_.track(make_string(read_bytes(read_le(8), "bytearray"), true, true))); break;
    case 0x97: ctx_.fail("out-of-band buffers (NEXT_BUFFER, pickle protocol 5) are not supported");
    case 0x98: ctx_.fail("out-of-band buffers (READONLY_BUFFER, pickle protocol 5) are not supported");

    // Containers.
    case ')': push(Value::tuple()); break;
    case 't': push(make_tuple(pop_mark())); break;
    case 0x85: {
      auto a = pop();
      push(make_tuple({std::move(a)}));
      break;
    }
    case 0x86: {
      auto b = pop();
      auto a = pop();
      push(make_tuple({std::move(a), std::move(b)}));
      break;
    }
    case 0x87: {
      auto c = pop();
      auto b = pop();
      auto a = pop();
      push(make_tuple({std::move(a), std::move(b), std::move(c)}));
      break;
    }
    case ']': push(ctx_.track(Value::list())); break;
    case 'l': {
      auto items = pop_mark();
      push(ctx_.track(Value::list()));
      append_items(std::move(items));
      break;
    }
    case 'a': {
      auto v = pop();
      append_items({std::move(v)});
      break;
    }
    case 'e': append_items(pop_mark()); break;
    case '}': push(ctx_.track(Value::dict())); break;
    case 'd': {
      auto items = pop_mark();
      push(ctx_.track(Value::dict()));
      set_items(std::move(items));
      break;
    }
    case 's': {
      auto v = pop();
      auto k = pop();
      set_items({std::move(k), std::move(v)});
      break;
    }
    case 'u': set_items(pop_mark()); break;
    case 0x8f: push(ctx_.track(Value::set())); break;
    case 0x90: add_items(pop_mark()); break;
    case 0x91: {
      auto items = pop_mark();
      ctx_.count_elements(items.size());
      ValuePtr s;
      try {
        s = Value::set(std::move(items), true);
      } catch (const InputError& e) {
        ctx_.fail(e.what());
      }
      ctx_.check_nesting(*s);
      push(ctx_.track(std::move(s)));
      break;
    }

    // Memo.
    case 'p': memo_put(parse_memo_key(read_line())); break;
    case 'q': memo_put(read_le(1)); break;
    case 'r': memo_put(read_le(4)); break;
    case 0x94: memo_put(memo_.size()); break;
    case 'g': memo_get(parse_memo_key(read_line())); break;
    case 'h': memo_get(read_le(1)); break;
    case 'j': memo_get(read_le(4)); break;

    // Globals and calls: nothing is ever imported or executed.
    case 'c': {
      const std::string module = read_name_line();
      const std::string name = read_name_line();
      push(Value::global(named_global(module, name)));
      break;
    }
    case 0x93: {
      auto name = pop();
      auto module = pop();
      if (!name->is(ValueKind::Str) || !module->is(ValueKind::Str))
        ctx_.fail("STACK_GLOBAL needs two strings, got " + module->type_name() + " and " + name->type_name());
      push(Value::global(named_global(module->as_str(), name->as_str())));
      break;
    }
    case 'R': {
      auto args = pop();
      auto callee = pop();
      push(detail::call_global(callee, args, ctx_));
      break;
    }
    case 0x81: {
      auto args = pop();
      auto cls = pop();
      push(detail::new_object(cls, args, nullptr, ctx_));
      break;
    }
    case 0x92: {
      auto kwargs = pop();
      auto args = pop();
      auto cls = pop();
      push(detail::new_object(cls, args, kwargs, ctx_));
      break;
    }
    case 'i': {
      const std::string module = read_name_line();
      const std::string name = read_name_line();
      auto args = make_tuple(pop_mark());
      push(detail::call_global(Value::global(detail::resolve_global(module, name)), args, ctx_));
      break;
    }
    case 'o': {
      auto items = pop_mark();
      if (items.empty()) ctx_.fail("OBJ without a class");
      auto cls = items.front();
      items.erase(items.begin());
      push(detail::call_global(cls, make_tuple(std::move(items)), ctx_));
      break;
    }
    case 'b': {
      auto state = pop();
      detail::apply_build(top(), state, ctx_);
      break;
    }
    case 'P': {
      auto line = read_line();
      push(persistent_load(make_string(line, false)));
      break;
    }
    case 'Q': push(persistent_load(pop())); break;
    case 0x82:
    case 0x83:
    case 0x84: ctx_.fail("extension registry codes (copyreg EXT opcodes) are not supported");
    default: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", op);
      ctx_.fail(std::string("unknown opcode ") + buf + " (not a pickle, or corrupt)");
    }
  }
}

// Exact nesting and acyclicity of the finished graph, by an explicit-stack depth-first walk.
// Returns every value reachable from the root.
std::unordered_set<const Value*> check_graph(const ValuePtr& root, PickleContext& ctx) {
  struct Info {
    bool done = false;
    std::uint32_t depth = 0;
  };
  struct Frame {
    const Value* node;
    std::vector<const Value*> children;
    std::size_t next = 0;
    std::uint32_t depth = 0;
  };
  auto is_container = [](const Value& v) {
    switch (v.kind()) {
      case ValueKind::List: case ValueKind::Tuple: case ValueKind::Dict: case ValueKind::Set:
      case ValueKind::FrozenSet: case ValueKind::Slice: case ValueKind::Object: case ValueKind::NumpyArray:
        return true;
      default: return false;
    }
  };
  std::unordered_map<const Value*, Info> info;
  std::vector<Frame> stack;
  auto open = [&](const Value* v) {
    info[v];  // present but not done: on the current path
    Frame f{v, {}, 0, 0};
    v->collect_children(f.children);
    stack.push_back(std::move(f));
    if (stack.size() > ctx.options->limits.max_depth + 2)
      ctx.fail("containers nested deeper than " + std::to_string(ctx.options->limits.max_depth) + " levels");
  };
  open(root.get());
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next < f.children.size()) {
      const Value* c = f.children[f.next++];
      auto it = info.find(c);
      if (it == info.end()) {
        open(c);
      } else if (!it->second.done) {
        ctx.fail("the pickle builds a container that contains itself; refusing the reference cycle");
      } else if (it->second.depth > f.depth) {
        f.depth = it->second.depth;
      }
      continue;
    }
    const std::uint32_t depth = f.depth + (is_container(*f.node) ? 1 : 0);
    if (depth > ctx.options->limits.max_depth)
      ctx.fail("containers nested deeper than " + std::to_string(ctx.options->limits.max_depth) + " levels");
    info[f.node] = Info{true, depth};
    stack.pop_back();
    if (!stack.empty() && depth > stack.back().depth) stack.back().depth = depth;
  }
  std::unordered_set<const Value*> reachable;
  for (const auto& [node, _] : info) reachable.insert(node);
  return reachable;
}

UnpickleResult Machine::run() {
  while (!stopped_) {
    if (pos_ >= size_) {
      ctx_.offset = pos_;
      ctx_.opcode = "(end)";
      ctx_.fail("the data ends before the STOP opcode (truncated file?)");
    }
    ctx_.offset = pos_;
    const unsigned char op = data_[pos_++];
    const char* name = opcode_name(op);
    ctx_.opcode = name ? name : "?";
    step(op);
  }
  if (foreign_global_) {
    ctx_.offset = foreign_global_->offset;
    ctx_.opcode = foreign_global_->opcode;
    ctx_.refuse_reference(foreign_global_->name);
  }
  UnpickleResult result;
  if (stack_.empty()) ctx_.fail("STOP with an empty stack");
  result.value = std::move(stack_.back());
  result.consumed = pos_;
  result.protocol = protocol_;
  stack_.clear();
  marks_.clear();
  memo_.clear();
  const auto reachable = check_graph(result.value, ctx_);
  // Containers left behind on the stack or in the memo may form cycles (a list appended to
  // itself); break them, or they would never be freed.
  std::vector<ValuePtr> released;
  for (auto& c : ctx_.mutable_containers)
    if (!reachable.count(c.get())) c->release_children(released);
  released.clear();
  ctx_.mutable_containers.clear();
  return result;
}

void Machine::tear_down() {
  stack_.clear();
  memo_.clear();
  std::vector<ValuePtr> released;
  for (auto& c : ctx_.mutable_containers) c->release_children(released);
  ctx_.mutable_containers.clear();
  released.clear();
}

}  // namespace

UnpickleResult unpickle(std::span<const std::byte> data, const UnpickleOptions& options) {
  Machine machine(data, options);
  try {
    return machine.run();
  } catch (...) {
    machine.tear_down();
    throw;
  }
}

}  // namespace medport::ckpt
