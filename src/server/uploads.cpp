#include "medport/server/uploads.hpp"

#include <cctype>
#include <cstdlib>
#include <string>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::server {

namespace fs = std::filesystem;

std::string known_image_ending(std::string_view client_name) {
  std::string lower(client_name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const char* endings[] = {".nii.gz", ".nii", ".mha", ".mhd", ".npy", ".npz", ".png", ".jpg", ".jpeg",
                                  ".bmp",    ".tif", ".tiff", ".pgm", ".ppm"};
  for (const char* e : endings) {
    const std::string ending(e);
    if (lower.size() >= ending.size() && lower.compare(lower.size() - ending.size(), ending.size(), ending) == 0) return ending;
  }
  return {};
}

UploadFolder::UploadFolder() {
  std::string pattern = (fs::temp_directory_path() / "medport-serve-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary folder for the upload");
  path_ = pattern;
}

UploadFolder::~UploadFolder() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path UploadFolder::store(const std::string& field, std::string_view client_name, std::string_view content) {
  const std::string ending = known_image_ending(client_name);
  if (ending.empty())
    throw UsageError("file field '" + field + "': the file name must end in a known image ending (.png, .nii.gz, .npy, ...)");
  if (ending == ".mhd") throw UsageError("file field '" + field + "': upload MetaImage as a single .mha file");
  if (content.empty()) throw UsageError("file field '" + field + "' is empty");
  const fs::path p = path_ / (field + "_" + std::to_string(counter_++) + ending);
  write_file_atomic(p, content);
  return p;
}

}  // namespace medport::server
