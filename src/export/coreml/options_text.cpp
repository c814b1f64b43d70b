// Deployment targets and the shape flags' text forms.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "medport/error.hpp"
#include "medport/export/coreml.hpp"

namespace medport::coreml {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(sep, start);
    parts.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) break;
    start = at + 1;
  }
  return parts;
}

std::int64_t parse_dim(const std::string& text, const std::string& flag) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, v);
  if (r.ec != std::errc() || r.ptr != end || v < 1)
    throw UsageError(flag + ": '" + text + "' is not a positive size");
  return v;
}

// "name=spec;name=spec" -> (name, spec) pairs.
std::vector<std::pair<std::string, std::string>> entries(const std::string& text, const std::string& flag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& part : split(text, ';')) {
    if (part.empty()) continue;
    const auto eq = part.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == part.size())
      throw UsageError(flag + ": expected NAME=DIMS, got '" + part + "'");
    out.emplace_back(part.substr(0, eq), part.substr(eq + 1));
  }
  if (out.empty()) throw UsageError(flag + ": no input given");
  return out;
}

Shape parse_shape(const std::string& text, const std::string& flag) {
  Shape shape;
  for (const auto& d : split(text, ',')) shape.push_back(parse_dim(d, flag));
  return shape;
}

}  // namespace

std::string Target::opset() const { return "CoreML" + std::to_string(ios - 10); }

Target parse_target(const std::string& name) {
  const std::string n = lower(name);
  struct Row {
    const char* name;
    int spec;
    int ios;
  };
  static const Row rows[] = {
      {"ios13", 4, 13},   {"ios14", 5, 14},   {"ios15", 6, 15},  {"ios16", 7, 16},  {"ios17", 8, 17},
      {"ios18", 9, 18},   {"macos10.15", 4, 13}, {"macos10_15", 4, 13}, {"macos11", 5, 14}, {"macos12", 6, 15},
      {"macos13", 7, 16}, {"macos14", 8, 17}, {"macos15", 9, 18},
  };
  for (const auto& r : rows)
    if (n == r.name) return Target{name, r.spec, r.ios};
  throw UsageError("--deployment-target: unknown target '" + name + "' (iOS13..iOS18, macOS10.15, macOS11..macOS15)");
}

Target default_target(Backend backend) {
  return backend == Backend::MLProgram ? Target{"iOS15", 6, 15} : Target{"iOS14", 5, 14};
}

std::map<std::string, Shape> parse_input_shapes(const std::string& text) {
  std::map<std::string, Shape> out;
  for (const auto& [name, spec] : entries(text, "--input-shape")) out[name] = parse_shape(spec, "--input-shape");
  return out;
}

std::map<std::string, std::vector<DimRange>> parse_shape_ranges(const std::string& text) {
  std::map<std::string, std::vector<DimRange>> out;
  for (const auto& [name, spec] : entries(text, "--shape-range")) {
    std::vector<DimRange> dims;
    for (const auto& d : split(spec, ',')) {
      const auto colon = d.find(':');
      DimRange r;
      if (colon == std::string::npos) {
        r.lower = r.upper = parse_dim(d, "--shape-range");
      } else {
        r.lower = parse_dim(d.substr(0, colon), "--shape-range");
        const auto hi = d.substr(colon + 1);
        r.upper = hi == "*" ? -1 : parse_dim(hi, "--shape-range");
        if (r.upper != -1 && r.upper < r.lower) throw UsageError("--shape-range: empty range '" + d + "'");
      }
      dims.push_back(r);
    }
    out[name] = std::move(dims);
  }
  return out;
}

std::map<std::string, std::vector<Shape>> parse_enumerated_shapes(const std::string& text) {
  std::map<std::string, std::vector<Shape>> out;
  for (const auto& [name, spec] : entries(text, "--enumerated-shapes")) {
    std::vector<Shape> shapes;
    for (const auto& s : split(spec, '|')) shapes.push_back(parse_shape(s, "--enumerated-shapes"));
    for (const auto& s : shapes)
      if (s.size() != shapes.front().size())
        throw UsageError("--enumerated-shapes: shapes of '" + name + "' differ in rank");
    out[name] = std::move(shapes);
  }
  return out;
}

bool is_coreml_path(const std::filesystem::path& path) {
  const auto ext = lower(path.extension().string());
  return ext == ".mlpackage" || ext == ".mlmodel";
}

}  // namespace medport::coreml
