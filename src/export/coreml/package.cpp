#include "export/coreml/package.hpp"

#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::coreml {

namespace fs = std::filesystem;

namespace {

// A UUID-shaped identifier from a SHA-256 (version nibble 8: custom, RFC 9562).
std::string content_identifier(const std::string& seed) {
  const std::string h = sha256_hex(std::as_bytes(std::span(seed.data(), seed.size())));
  std::string id = h.substr(0, 8) + "-" + h.substr(8, 4) + "-8" + h.substr(13, 3) + "-";
  const char variant = "89ab"[std::stoi(h.substr(16, 1), nullptr, 16) & 3];
  id += variant + h.substr(17, 3) + "-" + h.substr(20, 12);
  return id;
}

// Removes the temporary folder unless released.
class TempDir {
 public:
  explicit TempDir(const fs::path& destination) {
    fs::create_directories(destination.parent_path().empty() ? fs::path(".") : destination.parent_path());
    std::string pattern =
        (destination.parent_path() / ("." + destination.filename().string() + ".tmp-XXXXXX")).string();
    if (!::mkdtemp(pattern.data())) throw InputError(destination.string(), "cannot create a folder beside it");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

}  // namespace

std::vector<fs::path> write_mlpackage(const fs::path& path, const std::string& model_bytes, const BlobPlan& blobs) {
  if (fs::exists(path) && !fs::is_directory(path))
    throw UsageError(path.string() + " exists and is not a package folder");
  TempDir tmp(path);
  fs::create_directories(tmp.path() / kPackageData / "weights");
  const std::string weights_sha = write_blob_file(blobs, tmp.path() / kPackageWeights);
  write_file_atomic(tmp.path() / kPackageSpec, std::as_bytes(std::span(model_bytes.data(), model_bytes.size())));

  const std::string spec_id = content_identifier("model.mlmodel\n" + model_bytes + weights_sha);
  const std::string weights_id = content_identifier("weights\n" + model_bytes + weights_sha);
  nlohmann::ordered_json manifest;
  manifest["fileFormatVersion"] = "1.0.0";
  nlohmann::ordered_json items = nlohmann::ordered_json::object();
  const std::pair<std::string, nlohmann::ordered_json> entries[] = {
      {spec_id, {{"author", "com.apple.CoreML"}, {"description", "CoreML Model Specification"},
                 {"name", "model.mlmodel"}, {"path", "com.apple.CoreML/model.mlmodel"}}},
      {weights_id, {{"author", "com.apple.CoreML"}, {"description", "CoreML Model Weights"},
                    {"name", "weights"}, {"path", "com.apple.CoreML/weights"}}}};
  for (const auto& e : entries[0].first < entries[1].first ? std::vector{entries[0], entries[1]}
                                                           : std::vector{entries[1], entries[0]})
    items[e.first] = e.second;
  manifest["itemInfoEntries"] = items;
  manifest["rootModelIdentifier"] = spec_id;
  write_file_atomic(tmp.path() / "Manifest.json", manifest.dump(4) + "\n");

  // Swap into place: an old package moves aside first and is removed once the new one is in.
  fs::path old;
  if (fs::exists(path)) {
    old = path.parent_path() / ("." + path.filename().string() + ".old-" + spec_id.substr(0, 8));
    fs::remove_all(old);
    fs::rename(path, old);
  }
  fs::rename(tmp.path(), path);
  tmp.release();
  if (!old.empty()) fs::remove_all(old);
  return {path / "Manifest.json", path / kPackageSpec, path / kPackageWeights};
}

void refuse_links_inside(const fs::path& package, const fs::path& inside) {
  fs::path at = package;
  for (const auto& part : inside.lexically_relative(package)) {
    at /= part;
    std::error_code ec;
    if (fs::is_symlink(at, ec))
      throw InputError(at.string(), "a symbolic link inside a Core ML package (packages hold none; not followed)");
  }
}

fs::path package_spec_path(const fs::path& path) {
  if (!fs::is_directory(path)) return path;
  const fs::path manifest_path = path / "Manifest.json";
  refuse_links_inside(path, manifest_path);
  const auto bytes = read_file(manifest_path, std::size_t{1} << 20);
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data()),
                                     reinterpret_cast<const char*>(bytes.data()) + bytes.size());
    const std::string root = manifest.at("rootModelIdentifier").get<std::string>();
    const std::string rel = manifest.at("itemInfoEntries").at(root).at("path").get<std::string>();
    if (rel.find("..") != std::string::npos || rel.empty() || rel[0] == '/')
      throw InputError(manifest_path.string(), "the root item's path '" + rel + "' leaves the package");
    refuse_links_inside(path, path / "Data" / rel);
    return path / "Data" / rel;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(manifest_path.string(), std::string("not a package manifest (") + e.what() + ")");
  }
}

}  // namespace medport::coreml
