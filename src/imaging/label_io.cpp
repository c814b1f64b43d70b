#include "medport/imaging/label_io.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/util/number_list.hpp"

namespace medport::imaging {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string>& preferred_endings() {
  static const std::vector<std::string> endings = {".nii.gz", ".nii", ".mha", ".mhd", ".npy",
                                                   ".png",    ".tif", ".tiff", ".bmp"};
  return endings;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string ending_of(const fs::path& path) {
  const std::string name = lower(path.filename().string());
  for (const auto& e : preferred_endings())
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) return e;
  return "";
}

}  // namespace

bool is_label_map_file(const fs::path& path) { return !ending_of(path).empty(); }

std::string stem_without_ending(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.substr(0, name.size() - ending_of(path).size());
}

std::string matching_case_name(const fs::path& path) {
  std::string stem = stem_without_ending(path);
  for (const std::string suffix : {"_gt", "_seg"})
    if (stem.size() > suffix.size() && stem.compare(stem.size() - suffix.size(), suffix.size(), suffix) == 0)
      return stem.substr(0, stem.size() - suffix.size());
  return stem;
}

std::vector<fs::path> label_map_files(const fs::path& folder) {
  if (!fs::is_directory(folder)) throw InputError(folder.string(), "not a folder");
  std::map<std::string, std::pair<std::size_t, fs::path>> best;  // stem -> (ending rank, file)
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    const std::string ending = ending_of(entry.path());
    if (ending.empty()) continue;
    const auto& order = preferred_endings();
    const auto rank = static_cast<std::size_t>(std::find(order.begin(), order.end(), ending) - order.begin());
    const std::string stem = stem_without_ending(entry.path());
    auto it = best.find(stem);
    if (it == best.end() || rank < it->second.first) best[stem] = {rank, entry.path()};
  }
  std::vector<fs::path> files;
  for (const auto& [stem, item] : best) files.push_back(item.second);
  return files;
}

LabelMapFile read_label_map(const fs::path& path, const std::optional<std::vector<double>>& spacing) {
  const std::string source = path.string();
  ReadOptions options;
  options.to_gray = true;
  const Image image = read_image(path, options);
  if (image.channels() != 1) throw InputError(source, "a label map must have one channel, found " +
                                                          std::to_string(image.channels()));
  std::vector<std::int64_t> shape(image.shape.begin() + 1, image.shape.end());
  std::vector<double> file_spacing = image.spacing;
  if (shape.size() == 3 && shape[0] == 1) {
    shape.erase(shape.begin());
    if (file_spacing.size() == 3) file_spacing.erase(file_spacing.begin());
  }
  LabelMapFile out;
  const auto format = format_from_path(path);
  out.spacing_from_file = format == ImageFormat::Nifti || format == ImageFormat::MetaImage || format == ImageFormat::Dicom;
  std::vector<double> used = file_spacing;
  if (spacing) {
    if (spacing->size() != shape.size())
      throw UsageError("--spacing gives " + std::to_string(spacing->size()) + " values but " + source + " has " +
                       std::to_string(shape.size()) + " axes");
    used = *spacing;
  }
  out.image = LabelImage(shape, used);
  for (std::size_t i = 0; i < image.data.size(); ++i) {
    const float v = image.data[i];
    if (!(v >= 0.0f && v <= 255.0f) || v != std::floor(v))
      throw InputError(source, "not a label map: value " + std::to_string(v) + " is not an integer in 0..255");
    out.image.labels[i] = static_cast<std::uint8_t>(v);
  }
  out.image.validate(source);
  return out;
}

std::vector<double> parse_spacing(const std::string& text, std::size_t min_count, std::size_t max_count) {
  const auto values = split_numbers(text);
  if (!values || std::any_of(values->begin(), values->end(), [](double v) { return !(v > 0.0); }))
    throw UsageError("spacing '" + text + "': expected positive numbers separated by commas");
  if (values->size() < min_count || values->size() > max_count)
    throw UsageError("spacing '" + text + "': expected " + std::to_string(min_count) +
                     (max_count > min_count ? " to " + std::to_string(max_count) : std::string()) + " values");
  return *values;
}

}  // namespace medport::imaging
