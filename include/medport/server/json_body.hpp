#pragma once
// Strict JSON for request bodies: RFC 8259 only (no comments, no trailing commas), at most 64
// levels deep, no duplicate keys in an object, and helpers that refuse unknown keys and wrong
// types. Every fault is a UsageError whose message says where (400).
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace medport::server {

nlohmann::json parse_strict_json(std::string_view text, const std::string& what = "request body");

// UsageError naming the first key of `object` not in `allowed` (`what` names the object).
void allow_only_keys(const nlohmann::json& object, std::initializer_list<std::string_view> allowed, const std::string& what);

}  // namespace medport::server
