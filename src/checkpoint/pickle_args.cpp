// Argument checking shared by the emulated constructors.
#include <unordered_set>

#include "medport/error.hpp"
#include "pickle_internal.hpp"

namespace medport::ckpt::detail {

namespace {
// The first value in `v` (searched without recursion) that medport would have to execute.
const GlobalRef* find_foreign(const Value& v, const Value** object_out) {
  std::vector<const Value*> pending{&v};
  std::unordered_set<const Value*> seen;
  while (!pending.empty()) {
    const Value* cur = pending.back();
    pending.pop_back();
    if (!seen.insert(cur).second) continue;
    if (cur->is(ValueKind::Global) && cur->global_ref().builtin < 0) return &cur->global_ref();
    if (cur->is(ValueKind::Object)) {
      *object_out = cur;
      return &cur->object_data().type;
    }
    cur->collect_children(pending);
  }
  return nullptr;
}

}  // namespace

const std::vector<ValuePtr>& positional(const ValuePtr& args, const GlobalRef& g, PickleContext& ctx) {
  if (!args->is(ValueKind::Tuple)) ctx.fail("arguments of " + g.qualified() + " must be a tuple, got " + args->type_name());
  return args->items();
}

void expect_count(const std::vector<ValuePtr>& a, std::size_t lo, std::size_t hi, const GlobalRef& g,
                  PickleContext& ctx) {
  if (a.size() < lo || a.size() > hi)
    ctx.fail(g.qualified() + " takes " + std::to_string(lo) + (hi != lo ? "-" + std::to_string(hi) : "") +
             " arguments, got " + std::to_string(a.size()));
}

std::int64_t int_arg(const ValuePtr& v, const char* what, const GlobalRef& g, PickleContext& ctx) {
  if (!v->is(ValueKind::Int) && !v->is(ValueKind::Bool))
    ctx.fail(g.qualified() + ": " + what + " must be an int, got " + v->type_name());
  return v->as_int();
}

Shape int_sequence(const ValuePtr& v, const char* what, const GlobalRef& g, PickleContext& ctx) {
  if (!v->is(ValueKind::Tuple) && !v->is(ValueKind::List))
    ctx.fail(g.qualified() + ": " + what + " must be a tuple of ints, got " + v->type_name());
  Shape out;
  for (const auto& i : v->items()) out.push_back(int_arg(i, what, g, ctx));
  return out;
}

void refuse_foreign_dependencies(const std::vector<ValuePtr>& args, PickleContext& ctx) {
  for (const auto& a : args) {
    const Value* obj = nullptr;
    if (const GlobalRef* g = find_foreign(*a, &obj)) ctx.refuse_tensor_dependency(g->qualified());
  }
}

std::vector<ValuePtr> iterable_items(const ValuePtr& v, const GlobalRef& g, PickleContext& ctx) {
  switch (v->kind()) {
    case ValueKind::List: case ValueKind::Tuple: case ValueKind::Set: case ValueKind::FrozenSet:
      ctx.count_elements(v->items().size());
      return v->items();
    case ValueKind::Dict: {
      std::vector<ValuePtr> keys;
      for (const auto& [k, val] : v->dict_data().entries) keys.push_back(k);
      ctx.count_elements(keys.size());
      return keys;
    }
    case ValueKind::Str: {
      std::vector<ValuePtr> chars;
      std::vector<std::uint32_t> cps;
      try {
        cps = utf8_code_points(v->as_str());
      } catch (const std::invalid_argument&) {
        ctx.fail(g.qualified() + ": invalid UTF-8 text");
      }
      ctx.count_elements(cps.size());
      for (auto cp : cps) {
        std::string s;
        append_utf8(s, cp);
        chars.push_back(Value::str(std::move(s)));
      }
      return chars;
    }
    case ValueKind::Bytes: {
      std::vector<ValuePtr> ints;
      ctx.count_elements(v->as_bytes().size());
      for (unsigned char c : v->as_bytes()) ints.push_back(Value::integer(c));
      return ints;
    }
    default: ctx.fail(g.qualified() + ": cannot iterate over a " + v->type_name());
  }
}

std::string encode_text(const std::string& text, const std::string& encoding, const GlobalRef& g, PickleContext& ctx) {
  std::string enc;
  for (char c : encoding) enc += static_cast<char>(c == '_' ? '-' : std::tolower(static_cast<unsigned char>(c)));
  if (enc == "utf-8" || enc == "utf8") return text;
  if (enc == "latin1" || enc == "latin-1" || enc == "iso-8859-1" || enc == "iso8859-1" || enc == "l1") {
    std::vector<std::uint32_t> cps;
    try {
      cps = utf8_code_points(text);
    } catch (const std::invalid_argument&) {
      ctx.fail(g.qualified() + ": invalid UTF-8 text");
    }
    std::string out;
    out.reserve(cps.size());
    for (auto cp : cps) {
      if (cp > 0xff) ctx.fail(g.qualified() + ": character U+" + std::to_string(cp) + " is not latin-1");
      out += static_cast<char>(cp);
    }
    return out;
  }
  ctx.fail(g.qualified() + ": unsupported encoding '" + encoding + "'");
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case ValueKind::None: return false;
    case ValueKind::Bool: return v.as_bool();
    case ValueKind::Int: return v.as_int() != 0;
    case ValueKind::BigInt: return true;
    case ValueKind::Float: return v.as_float() != 0.0;
    case ValueKind::Str: return !v.as_str().empty();
    case ValueKind::Bytes: return !v.as_bytes().empty();
    case ValueKind::Dict: case ValueKind::List: case ValueKind::Tuple: case ValueKind::Set: case ValueKind::FrozenSet:
      return v.size() != 0;
    default: return true;
  }
}


}  // namespace medport::ckpt::detail
