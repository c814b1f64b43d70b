#include <cctype>

#include "medport/error.hpp"
#include "models/iris/iris_internal.hpp"

namespace medport::models::iris {
namespace {

std::string trim(const std::string& s) {
  std::size_t a = 0, e = s.size();
  while (a < e && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (e > a && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(a, e - a);
}

std::string strip_comment(const std::string& line) {
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '"' || line[i] == '\'') quoted = !quoted;
    if (line[i] == '#' && !quoted && (i == 0 || std::isspace(static_cast<unsigned char>(line[i - 1]))))
      return line.substr(0, i);
  }
  return line;
}

nlohmann::json scalar(const std::string& text) {
  const std::string t = trim(text);
  if (t.empty() || t == "~" || t == "null") return nullptr;
  if (t == "true" || t == "True") return true;
  if (t == "false" || t == "False") return false;
  if (t.size() >= 2 && (t.front() == '"' || t.front() == '\'') && t.back() == t.front())
    return t.substr(1, t.size() - 2);
  const auto number = nlohmann::json::parse(t, nullptr, false);
  if (!number.is_discarded() && number.is_number()) return number;
  return t;
}

}  // namespace

nlohmann::json parse_flat_yaml(const std::string& text, const std::string& source) {
  nlohmann::json out = nlohmann::json::object();
  std::string open_list;  // key whose block list is being read
  std::size_t start = 0;
  int line_no = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string raw = strip_comment(text.substr(start, end - start));
    start = end + 1;
    ++line_no;
    const std::string line = trim(raw);
    if (line.empty() || line == "---") continue;
    const auto where = "line " + std::to_string(line_no) + ": ";
    if (line.front() == '-') {
      if (open_list.empty()) throw InputError(source, where + "list item outside a list");
      out[open_list].push_back(scalar(line.substr(1)));
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(raw.front())))
      throw InputError(source, where + "nested mappings are not supported in an IRIS config");
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) throw InputError(source, where + "expected 'key: value'");
    const std::string key = trim(line.substr(0, colon));
    const std::string value = trim(line.substr(colon + 1));
    open_list.clear();
    if (value.empty()) {
      out[key] = nlohmann::json::array();
      open_list = key;
    } else if (value.front() == '[') {
      if (value.back() != ']') throw InputError(source, where + "unterminated list");
      nlohmann::json list = nlohmann::json::array();
      const std::string body = value.substr(1, value.size() - 2);
      std::size_t p = 0;
      while (!trim(body).empty() && p <= body.size()) {
        std::size_t q = body.find(',', p);
        if (q == std::string::npos) q = body.size();
        list.push_back(scalar(body.substr(p, q - p)));
        p = q + 1;
      }
      out[key] = list;
    } else {
      out[key] = scalar(value);
    }
  }
  return out;
}

}  // namespace medport::models::iris
