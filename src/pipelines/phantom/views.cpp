#include "medport/pipelines/phantom/views.hpp"

#include <regex>

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/util/file_io.hpp"

namespace medport::pipelines::clinical {

namespace fs = std::filesystem;

std::string view_in_name(const fs::path& path) {
  static const std::regex pattern("(?:^|_)([24])ch(?:_|$)", std::regex::icase);
  std::smatch m;
  const std::string stem = imaging::stem_without_ending(path);
  return std::regex_search(stem, m, pattern) ? m[1].str() + "CH" : std::string();
}

std::optional<std::vector<double>> spacing_from_sidecar(const fs::path& file, const std::string& view) {
  const fs::path sidecar = file.parent_path() / "spacing.json";
  if (view.empty() || !fs::exists(sidecar)) return std::nullopt;
  const auto bytes = read_file(sidecar, 1 << 20);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const std::exception& e) {
    throw InputError(sidecar.string(), std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains(view)) return std::nullopt;
  const auto& v = j[view];
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number() || !(v[0].get<double>() > 0) ||
      !(v[1].get<double>() > 0))
    throw InputError(sidecar.string(), "\"" + view + "\" must be [row_mm, col_mm] with positive numbers");
  return std::vector<double>{v[0].get<double>(), v[1].get<double>()};
}

}  // namespace medport::pipelines::clinical
