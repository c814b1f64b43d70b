// Format dispatch, channel stacking, label-map writing and nnU-Net's case grouping.
#include "medport/imaging/image_io.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include "image_formats.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"

namespace medport::imaging {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string file_ending(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  if (ends_with(lower(name), ".nii.gz")) return name.substr(name.size() - 7);
  return path.extension().string();
}

ImageFormat format_from_path(const std::filesystem::path& path) {
  const std::string ending = lower(file_ending(path));
  if (ending == ".png" || ending == ".jpg" || ending == ".jpeg" || ending == ".bmp" || ending == ".tif" ||
      ending == ".tiff")
    return ImageFormat::Natural;
  if (ending == ".nii" || ending == ".nii.gz") return ImageFormat::Nifti;
  if (ending == ".mhd" || ending == ".mha") return ImageFormat::MetaImage;
  if (ending == ".npy") return ImageFormat::Npy;
  if (ending == ".dcm" || std::filesystem::is_directory(path) || dicom::is_dicom_file(path)) return ImageFormat::Dicom;
  throw InputError(path.string(), "unsupported image format '" + ending +
                                      "' (png, jpg, bmp, tif, nii, nii.gz, mhd, mha, npy, DICOM)");
}

Image read_image(const std::filesystem::path& path, const ReadOptions& options) {
  Image image;
  switch (format_from_path(path)) {
    case ImageFormat::Natural: image = detail::read_natural(path, options); break;
    case ImageFormat::Nifti: image = detail::read_nifti(path); break;
    case ImageFormat::MetaImage: image = detail::read_metaimage(path); break;
    case ImageFormat::Npy: image = detail::read_npy_image(path, options); break;
    case ImageFormat::Dicom: image = detail::read_dicom(path, options); break;
  }
  image.source = path.string();
  if (options.spacing) {
    if (options.spacing->size() != image.spatial_dims())
      throw UsageError("--spacing needs " + std::to_string(image.spatial_dims()) + " values for " + path.string());
    image.spacing = *options.spacing;
  }
  image.validate();
  apply_non_finite_policy(image.data, image.shape, image.source, options.non_finite);
  return image;
}

Image read_channels(const std::vector<std::filesystem::path>& files, const ReadOptions& options) {
  if (files.empty()) throw UsageError("read_channels: no files given");
  Image stacked = read_image(files[0], options);
  for (std::size_t i = 1; i < files.size(); ++i) {
    const Image next = read_image(files[i], options);
    if (next.spatial_shape() != stacked.spatial_shape())
      throw InputError(files[i].string(), "shape " + shape_string(next.spatial_shape()) + " differs from " +
                                              shape_string(stacked.spatial_shape()) + " of " + files[0].string());
    stacked.data.insert(stacked.data.end(), next.data.begin(), next.data.end());
    stacked.shape[0] += next.shape[0];
    stacked.source += "," + next.source;
  }
  return stacked;
}

void write_label_map(const std::filesystem::path& path, const LabelImage& labels, const Image& reference) {
  LabelImage out = labels;
  Shape spatial = reference.spatial_shape();
  if (out.shape != spatial && out.shape.size() == 3 && out.shape[0] == 1 &&
      Shape(out.shape.begin() + 1, out.shape.end()) == spatial)
    out.shape = spatial;  // nnU-Net's (1, H, W) layout of a 2D image
  if (out.shape != spatial)
    throw UsageError("label map " + shape_string(out.shape) + " does not match the image " + shape_string(spatial));
  out.spacing = reference.spacing;
  switch (format_from_path(path)) {
    case ImageFormat::Natural: detail::write_natural_labels(path, out); break;
    case ImageFormat::Nifti: detail::write_nifti_labels(path, out, reference); break;
    case ImageFormat::MetaImage: detail::write_metaimage_labels(path, out, reference); break;
    case ImageFormat::Npy: detail::write_npy_labels(path, out); break;
    case ImageFormat::Dicom:
      throw UsageError(path.string() + ": label maps of DICOM inputs are written as NIfTI (.nii.gz) or DICOM SEG");
  }
}

std::string label_map_ending(const Image& image, const std::filesystem::path& input) {
  if (image.geometry.format == ImageFormat::Dicom) return ".nii.gz";
  std::string ending = file_ending(input);
  std::string lower = ending;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // JPEG is lossy: its label map is a PNG (the same pixels, exact values).
  return lower == ".jpg" || lower == ".jpeg" ? ".png" : ending;
}

void write_float_maps(const std::filesystem::path& path, const Tensor& maps, const Image& reference) {
  const Shape& shape = maps.shape();
  if (shape.size() < 3 || maps.dtype() != DType::F32 || Shape(shape.begin() + 1, shape.end()) != reference.spatial_shape())
    throw UsageError("float maps " + shape_string(shape) + " do not match the image " + shape_string(reference.spatial_shape()));
  switch (format_from_path(path)) {
    case ImageFormat::Nifti: {
      const Tensor c = maps.contiguous();
      detail::write_nifti_floats(path, reference.spatial_shape(), reference.spacing, shape[0], c.data<float>(), reference);
      break;
    }
    case ImageFormat::Npy: ckpt::write_npy_file(path, maps); break;
    default: throw UsageError(path.string() + ": float maps are written as .nii.gz, .nii or .npy");
  }
}

std::vector<ImageCase> group_cases(const std::filesystem::path& folder, const std::string& ending) {
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) throw InputError(folder.string(), "is not a folder");
  std::map<std::string, std::map<int, std::filesystem::path>> cases;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (!ends_with(name, ending) || name.size() < ending.size() + 5) continue;
    const std::string stem = name.substr(0, name.size() - ending.size());
    const std::string suffix = stem.substr(stem.size() - 5);
    if (suffix[0] != '_' || !std::all_of(suffix.begin() + 1, suffix.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    cases[stem.substr(0, stem.size() - 5)][std::stoi(suffix.substr(1))] = entry.path();
  }
  std::vector<ImageCase> out;
  std::size_t channels = 0;
  for (const auto& [identifier, files] : cases) {
    ImageCase c{identifier, {}};
    int expected = 0;
    for (const auto& [index, file] : files) {
      if (index != expected)
        throw InputError(folder.string(), "case '" + identifier + "' has no channel " + std::to_string(expected) +
                                              " (" + identifier + "_" + std::string(4 - std::to_string(expected).size(), '0') +
                                              std::to_string(expected) + ending + ")");
      c.channel_files.push_back(file);
      ++expected;
    }
    if (channels == 0) channels = c.channel_files.size();
    if (c.channel_files.size() != channels)
      throw InputError(folder.string(), "case '" + identifier + "' has " + std::to_string(c.channel_files.size()) +
                                            " channel(s), '" + out.front().identifier + "' has " + std::to_string(channels));
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace medport::imaging
