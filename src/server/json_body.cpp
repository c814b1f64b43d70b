#include "medport/server/json_body.hpp"

#include <set>
#include <vector>

#include "medport/error.hpp"

namespace medport::server {

nlohmann::json parse_strict_json(std::string_view text, const std::string& what) {
  using nlohmann::json;
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string fault;
  const json::parser_callback_t check = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > 64 && fault.empty()) fault = "nested more than 64 levels deep";
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
        fault.empty())
      fault = "duplicate key \"" + parsed.get<std::string>().substr(0, 64) + "\"";
    return true;
  };
  json out;
  try {
    out = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    // nlohmann's message: "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string message = e.what();
    const auto at = message.find("parse error");
    throw UsageError(what + ": not valid JSON (" + (at == std::string::npos ? message : message.substr(at)) + ")");
  }
  if (!fault.empty()) throw UsageError(what + ": " + fault);
  return out;
}

void allow_only_keys(const nlohmann::json& object, std::initializer_list<std::string_view> allowed, const std::string& what) {
  if (!object.is_object()) throw UsageError(what + " must be a JSON object");
  for (const auto& [key, value] : object.items()) {
    bool ok = false;
    for (auto a : allowed) ok = ok || key == a;
    if (!ok) throw UsageError(what + ": unknown key \"" + key.substr(0, 64) + "\"");
  }
}

}  // namespace medport::server
