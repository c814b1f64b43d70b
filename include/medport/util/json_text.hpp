#pragma once
// JSON text for the files medport writes. File names on Linux are bytes, not necessarily UTF-8;
// nlohmann::json's plain dump() throws on them (after other outputs may already exist). Here an
// invalid byte becomes U+FFFD instead, and NaN / inf are written as null (never as a number).
#include <string>

#include <nlohmann/json.hpp>

namespace medport {

std::string json_text(const nlohmann::json& value, int indent = 2);
std::string json_text(const nlohmann::ordered_json& value, int indent = 2);

}  // namespace medport
