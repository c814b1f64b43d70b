#include "medport/util/yaml_json.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>

#include "medport/error.hpp"

namespace medport {
namespace {

nlohmann::json scalar_to_json(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  if (node.Tag() == "!") return text;  // quoted: always a string
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  bool b = false;
  if (YAML::convert<bool>::decode(node, b) && text != "y" && text != "n" && text != "Y" && text != "N") return b;
  std::int64_t i = 0;
  if (YAML::convert<std::int64_t>::decode(node, i)) return i;
  double d = 0;
  if (YAML::convert<double>::decode(node, d)) return d;
  return text;
}

// Aliases let a few hundred bytes name billions of values ("billion laughs"): the conversion
// counts what it produces and stops at a budget no configuration comes near.
constexpr std::int64_t kMaxValues = 100000;

nlohmann::json node_to_json(const YAML::Node& node, int depth, const std::string& source, std::int64_t& values) {
  if (depth > 64) throw InputError(source, "YAML nested deeper than 64 levels");
  if (++values > kMaxValues)
    throw InputError(source, "YAML expands to more than " + std::to_string(kMaxValues) + " values (aliases of aliases?)");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      auto arr = nlohmann::json::array();
      for (const auto& item : node) arr.push_back(node_to_json(item, depth + 1, source, values));
      return arr;
    }
    case YAML::NodeType::Map: {
      auto obj = nlohmann::json::object();
      for (const auto& kv : node) {
        const auto key = kv.first.as<std::string>();
        if (obj.contains(key)) throw InputError(source, "YAML key '" + key + "' is given twice");
        obj[key] = node_to_json(kv.second, depth + 1, source, values);
      }
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json yaml_to_json(const std::string& text, const std::string& source) {
  try {
    std::int64_t values = 0;
    return node_to_json(YAML::Load(text), 0, source, values);
  } catch (const YAML::Exception& e) {
    throw InputError(source, std::string("invalid YAML: ") + e.what());
  }
}

}  // namespace medport
