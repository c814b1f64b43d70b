#include "task_support.hpp"

#include <openssl/evp.h>

#include "medport/error.hpp"
#include "medport/server/http_error.hpp"
#include "medport/server/json_body.hpp"

namespace medport::server {

using json = nlohmann::json;

void require_multipart(const Call& c) {
  if (!c.req.is_multipart_form_data()) throw UsageError("this endpoint takes multipart/form-data (file fields and text fields)");
}

std::optional<std::string> form_text(const Call& c, const std::string& name) {
  if (c.req.files.count(name) > 1) throw UsageError("form field '" + name + "' is given more than once");
  const auto it = c.req.files.find(name);
  if (it == c.req.files.end()) return std::nullopt;
  if (!it->second.filename.empty()) throw UsageError("form field '" + name + "' must be text, not a file");
  return it->second.content;
}

std::vector<const httplib::MultipartFormData*> form_files(const Call& c, const std::string& name) {
  std::vector<const httplib::MultipartFormData*> out;
  const auto [begin, end] = c.req.files.equal_range(name);
  for (auto it = begin; it != end; ++it) {
    if (it->second.filename.empty()) throw UsageError("form field '" + name + "' must be a file");
    out.push_back(&it->second);
  }
  return out;
}

void allow_only_fields(const Call& c, std::initializer_list<std::string_view> allowed) {
  for (const auto& [name, part] : c.req.files) {
    bool ok = false;
    for (auto a : allowed) ok = ok || name == a;
    if (!ok) throw UsageError("unknown form field '" + name.substr(0, 64) + "'");
  }
}

json form_options(const Call& c, std::initializer_list<std::string_view> allowed) {
  const auto text = form_text(c, "options");
  if (!text) return json::object();
  json o = parse_strict_json(*text, "options");
  allow_only_keys(o, allowed, "options");
  return o;
}

std::shared_ptr<const ServedModel> task_model(Call& c, const std::optional<std::string>& name, const std::string& family) {
  if (name) {
    c.set_model(*name);
    return c.service.store.get(*name);
  }
  auto m = c.service.store.first_of_family(family);
  if (!m) throw HttpError(404, "no " + family + " model is loaded; name one with the 'model' field");
  c.set_model(m->name());
  return m;
}

std::string base64(std::span<const std::byte> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

json encoded_array(std::span<const std::uint8_t> values, const std::vector<std::int64_t>& shape) {
  return {{"shape", shape}, {"dtype", "uint8"}, {"encoding", "base64"}, {"data", base64(std::as_bytes(values))}};
}

json encoded_array(std::span<const float> values, const std::vector<std::int64_t>& shape) {
  return {{"shape", shape}, {"dtype", "float32"}, {"encoding", "base64"}, {"data", base64(std::as_bytes(values))}};
}

bool option_bool(const json& o, const char* key, bool fallback) {
  if (!o.contains(key)) return fallback;
  if (!o[key].is_boolean()) throw UsageError(std::string("options.") + key + " must be true or false");
  return o[key].get<bool>();
}

double option_number(const json& o, const char* key, double fallback, double lo, double hi) {
  if (!o.contains(key)) return fallback;
  if (!o[key].is_number() || o[key].get<double>() < lo || o[key].get<double>() > hi)
    throw UsageError(std::string("options.") + key + " must be a number in " + std::to_string(lo) + ".." + std::to_string(hi));
  return o[key].get<double>();
}

std::int64_t option_int(const json& o, const char* key, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
  if (!o.contains(key)) return fallback;
  if (!o[key].is_number_integer() || o[key].get<std::int64_t>() < lo || o[key].get<std::int64_t>() > hi)
    throw UsageError(std::string("options.") + key + " must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  return o[key].get<std::int64_t>();
}

std::string option_string(const json& o, const char* key, const std::string& fallback) {
  if (!o.contains(key)) return fallback;
  if (!o[key].is_string()) throw UsageError(std::string("options.") + key + " must be a string");
  return o[key].get<std::string>();
}

}  // namespace medport::server
