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

nlohmann::json node_to_json(const YAML::Node& node, int depth, const std::string& source) {
  if (depth > 64) throw InputError(source, "YAML nested deeper than 64 levels");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      auto arr = nlohmann::json::array();
      for (const auto& item : node) arr.push_back(node_to_json(item, depth + 1, source));
      return arr;
    }
    case YAML::NodeType::Map: {
      auto obj = nlohmann::json::object();
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = node_to_json(kv.second, depth + 1, source);
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

nlohmann::json yaml_to_json(const std::string& text, const std::string& source) {
  try {
    return node_to_json(YAML::Load(text), 0, source);
  } catch (const YAML::Exception& e) {
    throw InputError(source, std::string("invalid YAML: ") + e.what());
  }
}

}  // namespace medport
