#include "medport/models/timm/classifier_config.hpp"

#include <cmath>
#include <sstream>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::models::timm {
namespace {

using Json = nlohmann::ordered_json;

Json provenance_json(const Provenance& p) { return {{"source", p.source}, {"reason", p.reason}}; }

Provenance provenance_from(const Json& j) {
  Provenance p;
  if (j.is_object()) {
    p.source = j.value("source", "");
    p.reason = j.value("reason", "");
  }
  return p;
}

const Json& field(const Json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) throw InputError(source, "the timm section has no '" + std::string(key) + "'");
  return j[key];
}

std::array<double, 3> triple(const Json& j, const char* key, const std::string& source) {
  const Json& v = field(j, key, source);
  if (!v.is_array() || v.size() != 3 || !v[0].is_number() || !v[1].is_number() || !v[2].is_number())
    throw InputError(source, std::string("timm.") + key + " must be a list of 3 numbers");
  return {v[0].get<double>(), v[1].get<double>(), v[2].get<double>()};
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return {};
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

}  // namespace

std::string ClassifierConfig::class_label(std::int64_t index) const {
  if (index >= 0 && static_cast<std::size_t>(index) < class_names.size()) return class_names[static_cast<std::size_t>(index)];
  return std::to_string(index);
}

Json ClassifierConfig::to_json() const {
  Json names = class_names.empty() ? Json(nullptr) : Json(class_names);
  return {{"arch", arch},
          {"arch_family", arch_family},
          {"weights", weights},
          {"num_classes", num_classes},
          {"class_names", names},
          {"class_names_from", provenance_json(class_names_from)},
          {"input", {{"name", kImageInput}, {"layout", "NCHW"}, {"channels", "RGB"}, {"range", {0, 255}}}},
          {"input_size", {3, height, width}},
          {"input_size_from", provenance_json(input_size_from)},
          {"interpolation", interpolation},
          {"interpolation_from", provenance_json(interpolation_from)},
          {"crop_pct", crop_pct},
          {"crop_mode", crop_mode},
          {"crop_from", provenance_json(crop_from)},
          {"mean", mean},
          {"std", std},
          {"normalization", "(image / 255 - mean) / std, inside the graph"},
          {"normalization_from", provenance_json(normalization_from)},
          {"outputs", logits_output ? Json{kProbsOutput, kLogitsOutput} : Json{kProbsOutput}}};
}

ClassifierConfig ClassifierConfig::from_json(const Json& j, const std::string& source) {
  if (!j.is_object()) throw InputError(source, "the timm section must be an object");
  ClassifierConfig c;
  try {
    c.arch = field(j, "arch", source).get<std::string>();
    c.arch_family = j.value("arch_family", "");
    c.weights = j.value("weights", "");
    c.num_classes = field(j, "num_classes", source).get<std::int64_t>();
    const Json& names = field(j, "class_names", source);
    if (!names.is_null()) c.class_names = names.get<std::vector<std::string>>();
    const Json& size = field(j, "input_size", source);
    if (!size.is_array() || size.size() != 3) throw InputError(source, "timm.input_size must be [3, H, W]");
    c.height = size[1].get<std::int64_t>();
    c.width = size[2].get<std::int64_t>();
    c.interpolation = field(j, "interpolation", source).get<std::string>();
    c.crop_pct = field(j, "crop_pct", source).get<double>();
    c.crop_mode = j.value("crop_mode", "center");
    const Json& outputs = field(j, "outputs", source);
    for (const auto& o : outputs)
      if (o.get<std::string>() == kLogitsOutput) c.logits_output = true;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, std::string("malformed timm section: ") + e.what());
  }
  c.mean = triple(j, "mean", source);
  c.std = triple(j, "std", source);
  c.class_names_from = provenance_from(j.value("class_names_from", Json()));
  c.input_size_from = provenance_from(j.value("input_size_from", Json()));
  c.interpolation_from = provenance_from(j.value("interpolation_from", Json()));
  c.crop_from = provenance_from(j.value("crop_from", Json()));
  c.normalization_from = provenance_from(j.value("normalization_from", Json()));
  if (c.num_classes < 1 || c.height < 1 || c.width < 1 || !(c.crop_pct > 0.0 && c.crop_pct <= 1.0))
    throw InputError(source, "timm section: num_classes, input_size and crop_pct (0, 1] must be positive");
  if (!c.class_names.empty() && static_cast<std::int64_t>(c.class_names.size()) != c.num_classes)
    throw InputError(source, "timm section: " + std::to_string(c.class_names.size()) + " class names for " +
                                 std::to_string(c.num_classes) + " classes");
  return c;
}

std::array<double, 3> parse_channel_triple(const std::string& text, const std::string& flag, bool positive) {
  std::string spaced = text;
  for (char& ch : spaced)
    if (ch == ',') ch = ' ';
  std::istringstream in(spaced);
  std::vector<double> values;
  std::string token;
  while (in >> token) {
    std::size_t used = 0;
    double v = 0;
    try {
      v = std::stod(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != token.size() || !std::isfinite(v) || (positive && v <= 0.0))
      throw UsageError(flag + " takes 1 or 3 " + (positive ? "positive " : "") + "numbers, got '" + text + "'");
    values.push_back(v);
  }
  if (values.size() == 1) return {values[0], values[0], values[0]};
  if (values.size() != 3) throw UsageError(flag + " takes 1 or 3 numbers (R,G,B), got '" + text + "'");
  return {values[0], values[1], values[2]};
}

std::vector<std::string> read_class_file(const std::string& path, std::int64_t num_classes) {
  const auto bytes = read_file(path, std::size_t{16} << 20);  // InputError naming the file
  const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::vector<std::string> names;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) names.push_back(trim(line));
  while (!names.empty() && names.back().empty()) names.pop_back();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i].empty()) throw InputError(path, "line " + std::to_string(i + 1) + " holds no class name");
  if (static_cast<std::int64_t>(names.size()) != num_classes)
    throw InputError(path, "has " + std::to_string(names.size()) + " class names but the model has " +
                               std::to_string(num_classes) + " classes");
  return names;
}

}  // namespace medport::models::timm
