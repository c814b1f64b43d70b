#include "medport/pipelines/classify/batch.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::classify {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::set<std::string> endings{".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy", ".dcm"};
  return endings.count(ext) != 0;
}

std::vector<ImageInput> collect_images(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> files;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(in, ec))
        if (e.is_regular_file() && is_image_file(e.path())) found.push_back(e.path());
      if (found.empty()) throw InputError(in.string(), "folder holds no image files (.png .jpg .tif .bmp .npy .dcm)");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(in, ec)) {
      files.push_back(in);
    } else {
      throw InputError(in.string(), unusable_input_reason(in));
    }
  }
  std::map<std::string, int> stems;
  for (const auto& f : files) ++stems[f.stem().string()];
  std::vector<ImageInput> out;
  std::set<std::string> names;
  for (const auto& f : files) {
    std::string name = f.stem().string();
    if (stems[name] > 1) name = f.parent_path().filename().string() + "_" + name;
    if (!names.insert(name).second) throw InputError(f.string(), "is given twice (case name '" + name + "')");
    out.push_back({name, f});
  }
  return out;
}

}  // namespace medport::classify
