#include "medport/triton/repository.hpp"

#include <algorithm>
#include <charconv>

#include "medport/error.hpp"

namespace medport::triton {

namespace fs = std::filesystem;

bool is_valid_model_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

void check_model_name(std::string_view name) {
  if (is_valid_model_name(name)) return;
  std::string shown;
  for (char c : name.substr(0, 64)) shown += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  throw InputError("model name '" + shown + (name.size() > 64 ? "...'" : "'"),
                   "not a valid model name (1-128 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit)");
}

namespace {

std::optional<std::int64_t> version_number(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.front() == '0') return std::nullopt;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 1) return std::nullopt;
  return v;
}

RepositoryEntry read_entry(const fs::path& dir, std::string name) {
  RepositoryEntry e;
  e.name = std::move(name);
  e.dir = dir;
  std::error_code ec;
  e.has_config = fs::is_regular_file(dir / "config.pbtxt", ec);
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    if (!item.is_directory(ec)) continue;
    if (const auto v = version_number(item.path().filename().string())) e.versions.push_back({*v, item.path()});
  }
  std::sort(e.versions.begin(), e.versions.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  return e;
}

}  // namespace

RepositoryScan scan_repository(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw InputError(root.string(), "model repository is not a folder");
  RepositoryScan scan;
  for (const auto& item : fs::directory_iterator(root, ec)) {
    if (!item.is_directory(ec)) continue;
    const std::string name = item.path().filename().string();
    if (name.front() == '.') continue;  // temporary folders of an export in progress
    if (!is_valid_model_name(name)) {
      scan.ignored.push_back(name + ": not a valid model name");
      continue;
    }
    scan.entries.push_back(read_entry(item.path(), name));
  }
  std::sort(scan.entries.begin(), scan.entries.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return scan;
}

std::optional<RepositoryEntry> find_entry(const fs::path& root, std::string_view name) {
  check_model_name(name);
  const fs::path dir = root / std::string(name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  return read_entry(dir, std::string(name));
}

fs::path model_in_version(const fs::path& version_dir) {
  std::error_code ec;
  if (fs::is_regular_file(version_dir / "model.onnx", ec)) return version_dir / "model.onnx";
  if (fs::is_regular_file(version_dir / "medport.json", ec)) return version_dir;
  throw InputError(version_dir.string(), "holds neither model.onnx nor a converted multi-graph folder (medport.json)");
}

}  // namespace medport::triton
