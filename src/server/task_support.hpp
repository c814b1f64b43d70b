#pragma once
// Helpers the task endpoints (/v1/...) share: multipart form fields, the JSON `options` field,
// base64, PNG encoding. Private to the server library.
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "service.hpp"

namespace medport::server {

// UsageError unless the request is multipart/form-data.
void require_multipart(const Call& c);
// A text field (a part without a file name); nullopt when absent. UsageError when given twice.
std::optional<std::string> form_text(const Call& c, const std::string& name);
// Every file part of a field, in request order.
std::vector<const httplib::MultipartFormData*> form_files(const Call& c, const std::string& name);
// UsageError naming the first part whose field is not in `allowed`.
void allow_only_fields(const Call& c, std::initializer_list<std::string_view> allowed);
// The `options` field parsed as strict JSON (an empty object when absent).
nlohmann::json form_options(const Call& c, std::initializer_list<std::string_view> allowed);

// The model named by the `model` field, else the first loaded model of `family`.
std::shared_ptr<const ServedModel> task_model(Call& c, const std::optional<std::string>& name, const std::string& family);

std::string base64(std::span<const std::byte> bytes);
// {"shape": [...], "dtype": "uint8", "encoding": "base64", "data": "..."}
nlohmann::json encoded_array(std::span<const std::uint8_t> values, const std::vector<std::int64_t>& shape);
nlohmann::json encoded_array(std::span<const float> values, const std::vector<std::int64_t>& shape);

// Typed option readers: UsageError naming the key when the type or range is wrong.
bool option_bool(const nlohmann::json& o, const char* key, bool fallback);
double option_number(const nlohmann::json& o, const char* key, double fallback, double lo, double hi);
std::int64_t option_int(const nlohmann::json& o, const char* key, std::int64_t fallback, std::int64_t lo, std::int64_t hi);
std::string option_string(const nlohmann::json& o, const char* key, const std::string& fallback);

}  // namespace medport::server
