#include "medport/checkpoint/value_json.hpp"

#include <cmath>

namespace medport::ckpt {
namespace {

struct Converter {
  const ValueJsonLimits& limits;
  std::size_t nodes = 0;

  nlohmann::ordered_json convert(const Value& v, int depth) {
    if (depth >= limits.max_depth || ++nodes > limits.max_nodes) return "...";
    switch (v.kind()) {
      case ValueKind::None: return nullptr;
      case ValueKind::Bool: return v.as_bool();
      case ValueKind::Int: return v.as_int();
      case ValueKind::Float: {
        const double d = v.as_float();
        if (std::isfinite(d)) return d;
        return python_float_repr(d);
      }
      case ValueKind::Str: return v.as_str();
      case ValueKind::NumpyScalar: {
        const auto& s = v.numpy_scalar();
        if (s.is_integer()) return s.to_int();
        if (s.is_floating() && std::isfinite(s.to_double())) return s.to_double();
        return v.repr();
      }
      case ValueKind::List:
      case ValueKind::Tuple:
      case ValueKind::Set:
      case ValueKind::FrozenSet: {
        auto arr = nlohmann::ordered_json::array();
        for (const auto& item : v.items()) arr.push_back(item ? convert(*item, depth + 1) : nullptr);
        return arr;
      }
      case ValueKind::Dict: {
        auto obj = nlohmann::ordered_json::object();
        for (const auto& [k, val] : v.dict_data().entries)
          obj[key_to_path_part(*k)] = val ? convert(*val, depth + 1) : nullptr;
        return obj;
      }
      default: return v.repr();
    }
  }
};

}  // namespace

nlohmann::ordered_json value_to_json(const Value& value, const ValueJsonLimits& limits) {
  Converter c{limits};
  return c.convert(value, 0);
}

}  // namespace medport::ckpt
