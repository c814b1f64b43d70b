#pragma once
// YAML configuration files read with yaml-cpp and handed on as JSON, so one set of JSON
// validation code serves .json and .yaml configs alike.
#include <string>

#include <nlohmann/json.hpp>

namespace medport {

// Scalars become null / bool / integer / float / string by YAML 1.2 core rules (an unquoted
// `16` is an integer, `"16"` a string). Throws InputError naming `source` on a syntax error.
nlohmann::json yaml_to_json(const std::string& text, const std::string& source);

}  // namespace medport
