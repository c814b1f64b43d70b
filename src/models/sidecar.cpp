#include "medport/models/sidecar.hpp"

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/json_text.hpp"

namespace medport::models {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kSchema = "medport.sidecar";

Json dims_to_json(const std::vector<SidecarDim>& shape) {
  Json out = Json::array();
  for (const auto& d : shape) {
    if (const auto* n = std::get_if<std::int64_t>(&d)) out.push_back(*n);
    else out.push_back(std::get<std::string>(d));
  }
  return out;
}

Json specs_to_json(const std::vector<TensorSpec>& specs) {
  Json out = Json::array();
  for (const auto& s : specs) out.push_back({{"name", s.name}, {"dtype", s.dtype}, {"shape", dims_to_json(s.shape)}});
  return out;
}

const Json& field(const Json& j, const char* key, const std::string& source, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) throw InputError(source, where + " has no '" + key + "'");
  return j[key];
}

std::string string_field(const Json& j, const char* key, const std::string& source, const std::string& where) {
  const Json& v = field(j, key, source, where);
  if (!v.is_string()) throw InputError(source, where + "." + key + " must be a string");
  return v.get<std::string>();
}

std::vector<TensorSpec> specs_from_json(const Json& j, const std::string& source, const std::string& where) {
  if (!j.is_array()) throw InputError(source, where + " must be a list");
  std::vector<TensorSpec> out;
  for (const auto& e : j) {
    TensorSpec s;
    s.name = string_field(e, "name", source, where);
    s.dtype = string_field(e, "dtype", source, where);
    const Json& shape = field(e, "shape", source, where);
    if (!shape.is_array()) throw InputError(source, where + "." + s.name + ".shape must be a list");
    for (const auto& d : shape) {
      if (d.is_number_integer()) s.shape.emplace_back(d.get<std::int64_t>());
      else if (d.is_string()) s.shape.emplace_back(d.get<std::string>());
      else throw InputError(source, where + "." + s.name + ".shape holds neither a size nor a name");
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

const GraphSpec& Sidecar::graph(const std::string& name, const std::string& source) const {
  for (const auto& g : graphs)
    if (g.name == name) return g;
  throw InputError(source, "the sidecar lists no graph '" + name + "'");
}

Json Sidecar::to_json() const {
  Json j = Json::object();
  j["schema"] = kSchema;
  j["schema_version"] = schema_version;
  j["family"] = family;
  j["variant"] = variant;
  j["medport_version"] = medport_version;
  j["format"] = format;
  j["precision"] = precision;
  j["opset"] = opset;
  j["checkpoint"] = {{"path", checkpoint}, {"sha256", checkpoint_sha256}};
  Json gs = Json::array();
  for (const auto& g : graphs)
    gs.push_back({{"name", g.name},
                  {"file", g.file},
                  {"precision", g.precision},
                  {"inputs", specs_to_json(g.inputs)},
                  {"outputs", specs_to_json(g.outputs)}});
  j["graphs"] = gs;
  j[family] = family_section;
  return j;
}

Sidecar Sidecar::from_json(const Json& j, const std::string& source) {
  if (!j.is_object() || !j.contains("schema") || j["schema"] != kSchema) {
    if (j.is_object() && j.value("format", "") == "medport-sidecar")
      throw InputError(source, "sidecar from an older medport (format_version 1): re-run `medport convert`");
    throw InputError(source, "not a medport sidecar (field 'schema' is not \"medport.sidecar\")");
  }
  Sidecar s;
  const Json& version = field(j, "schema_version", source, "sidecar");
  if (!version.is_number_integer() || version.get<int>() != kSidecarSchemaVersion)
    throw InputError(source, "sidecar schema_version " + version.dump() + " is not the " +
                                 std::to_string(kSidecarSchemaVersion) + " this medport reads: re-run `medport convert`");
  s.schema_version = version.get<int>();
  s.family = string_field(j, "family", source, "sidecar");
  s.variant = string_field(j, "variant", source, "sidecar");
  s.medport_version = string_field(j, "medport_version", source, "sidecar");
  s.format = string_field(j, "format", source, "sidecar");
  s.precision = string_field(j, "precision", source, "sidecar");
  const Json& opset = field(j, "opset", source, "sidecar");
  if (!opset.is_number_integer()) throw InputError(source, "sidecar.opset must be an integer");
  s.opset = opset.get<int>();
  const Json& ck = field(j, "checkpoint", source, "sidecar");
  s.checkpoint = string_field(ck, "path", source, "sidecar.checkpoint");
  s.checkpoint_sha256 = string_field(ck, "sha256", source, "sidecar.checkpoint");
  const Json& graphs = field(j, "graphs", source, "sidecar");
  if (!graphs.is_array() || graphs.empty()) throw InputError(source, "sidecar.graphs must be a non-empty list");
  for (const auto& g : graphs) {
    GraphSpec spec;
    spec.name = string_field(g, "name", source, "sidecar.graphs[]");
    spec.file = string_field(g, "file", source, "sidecar.graphs[" + spec.name + "]");
    if (spec.file.empty() || fs::path(spec.file).is_absolute() || spec.file.find("..") != std::string::npos)
      throw InputError(source, "sidecar.graphs[" + spec.name + "].file must name a file beside the sidecar");
    spec.precision = string_field(g, "precision", source, "sidecar.graphs[" + spec.name + "]");
    spec.inputs = specs_from_json(field(g, "inputs", source, "graph " + spec.name), source, spec.name + ".inputs");
    spec.outputs = specs_from_json(field(g, "outputs", source, "graph " + spec.name), source, spec.name + ".outputs");
    s.graphs.push_back(std::move(spec));
  }
  const Json& section = field(j, s.family.c_str(), source, "sidecar");
  if (!section.is_object()) throw InputError(source, "sidecar." + s.family + " must be an object");
  s.family_section = section;
  return s;
}

fs::path sidecar_path_for(const fs::path& model) {
  std::error_code ec;
  fs::path p = model;
  if (p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  if (fs::is_directory(p, ec) && p.extension() != ".mlpackage") return p / "medport.json";
  if (p.has_extension()) p.replace_extension();
  return p.string() + ".medport.json";
}

Sidecar read_sidecar(const fs::path& model, const std::string& expected_family) {
  const fs::path path = sidecar_path_for(model);
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw InputError(path.string(), "sidecar not found beside " + model.string() +
                                        " (`medport convert` writes it next to the model)");
  const auto bytes = read_file(path, std::size_t{64} << 20);
  Json j;
  try {
    j = Json::parse(reinterpret_cast<const char*>(bytes.data()), reinterpret_cast<const char*>(bytes.data()) + bytes.size());
  } catch (const Json::exception& e) {
    throw InputError(path.string(), std::string("not valid JSON: ") + e.what());
  }
  Sidecar s = Sidecar::from_json(j, path.string());
  if (!expected_family.empty() && s.family != expected_family)
    throw InputError(path.string(), "this model is a '" + s.family + "' model; a '" + expected_family + "' model is needed here");
  return s;
}

void write_sidecar(const fs::path& sidecar_path, const Sidecar& sidecar) {
  write_file_atomic(sidecar_path, json_text(sidecar.to_json()) + "\n");
}

}  // namespace medport::models
