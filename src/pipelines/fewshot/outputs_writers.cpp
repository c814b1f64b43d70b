// Label-map files of `medport fewshot`: NIfTI, npy, or PNG (one image, or one per slice).
#include <unistd.h>

#include <cstdio>
#include <opencv2/imgcodecs.hpp>

#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"
#include "medport/util/file_io.hpp"

namespace medport::pipelines::fewshot {
namespace fs = std::filesystem;

LabelFormat parse_label_format(std::string_view text) {
  if (text == "nii.gz" || text == ".nii.gz" || text == "nifti") return LabelFormat::NiftiGz;
  if (text == "npy" || text == ".npy") return LabelFormat::Npy;
  if (text == "png" || text == ".png") return LabelFormat::Png;
  throw UsageError("unknown label format '" + std::string(text) + "' (nii.gz, npy or png)");
}

std::string label_format_name(LabelFormat format) {
  switch (format) {
    case LabelFormat::NiftiGz: return "nii.gz";
    case LabelFormat::Npy: return "npy";
    case LabelFormat::Png: return "png";
  }
  return "?";
}

namespace {

fs::path with_suffix(const fs::path& stem, const std::string& suffix) {
  return stem.parent_path() / (stem.filename().string() + suffix);
}

void write_png_slices(const fs::path& folder, const imaging::LabelImage& labels) {
  const std::int64_t depth = labels.shape[0], height = labels.shape[1], width = labels.shape[2];
  const fs::path tmp = with_suffix(folder, ".tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);
  try {
    for (std::int64_t z = 0; z < depth; ++z) {
      const cv::Mat slice(static_cast<int>(height), static_cast<int>(width), CV_8U,
                          const_cast<std::uint8_t*>(labels.labels.data() + z * height * width));
      std::vector<std::uint8_t> png;
      if (!cv::imencode(".png", slice, png)) throw InputError(folder.string(), "OpenCV could not encode a slice");
      char name[32];
      std::snprintf(name, sizeof name, "slice_%03lld.png", static_cast<long long>(z));
      write_file_atomic(tmp / name, std::as_bytes(std::span<const std::uint8_t>(png)));
    }
    fs::remove_all(folder, ec);
    fs::rename(tmp, folder);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace

std::vector<fs::path> write_labels(const fs::path& stem, const imaging::LabelImage& labels,
                                   const imaging::Image& reference, LabelFormat format) {
  labels.validate(stem.string());
  imaging::Image ref = reference;
  if (ref.spatial_shape() != labels.shape) {  // no usable geometry: shape and spacing only
    ref = imaging::Image{};
    ref.shape = labels.shape;
    ref.shape.insert(ref.shape.begin(), 1);
    ref.spacing = labels.spacing.empty() ? std::vector<double>(labels.shape.size(), 1.0) : labels.spacing;
  }
  switch (format) {
    case LabelFormat::NiftiGz: {
      const auto path = with_suffix(stem, ".nii.gz");
      imaging::write_label_map(path, labels, ref);
      return {path};
    }
    case LabelFormat::Npy: {
      const auto path = with_suffix(stem, ".npy");
      imaging::write_label_map(path, labels, ref);
      return {path};
    }
    case LabelFormat::Png: {
      if (labels.shape.size() == 2 || labels.shape[0] == 1) {
        imaging::LabelImage flat = labels;
        if (flat.shape.size() == 3) {
          flat.shape.erase(flat.shape.begin());
          if (flat.spacing.size() == 3) flat.spacing.erase(flat.spacing.begin());
        }
        const auto path = with_suffix(stem, ".png");
        imaging::Image flat_ref;
        flat_ref.shape = {1, flat.shape[0], flat.shape[1]};
        flat_ref.spacing = flat.spacing.empty() ? std::vector<double>{1.0, 1.0} : flat.spacing;
        imaging::write_label_map(path, flat, flat_ref);
        return {path};
      }
      write_png_slices(stem, labels);
      return {stem};
    }
  }
  return {};
}

}  // namespace medport::pipelines::fewshot
