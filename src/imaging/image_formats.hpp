#pragma once
// Per-format readers/writers behind read_image / write_label_map.
#include <filesystem>

#include "medport/imaging/image_io.hpp"

namespace medport::imaging::detail {

Image read_natural(const std::filesystem::path& path, const ReadOptions& options);
Image read_nifti(const std::filesystem::path& path);
Image read_metaimage(const std::filesystem::path& path);
Image read_npy_image(const std::filesystem::path& path, const ReadOptions& options);
Image read_dicom(const std::filesystem::path& path, const ReadOptions& options);

// `labels` is row-major over `spatial` (the reference image's spatial shape).
void write_natural_labels(const std::filesystem::path& path, const LabelImage& labels);
void write_nifti_labels(const std::filesystem::path& path, const LabelImage& labels, const Image& reference);
// `channels` float32 maps over `spatial` (C slowest); C > 1 becomes the 4th NIfTI dimension.
void write_nifti_floats(const std::filesystem::path& path, const std::vector<std::int64_t>& spatial,
                        const std::vector<double>& spacing, std::int64_t channels, const float* data,
                        const Image& reference);
void write_metaimage_labels(const std::filesystem::path& path, const LabelImage& labels, const Image& reference);
void write_npy_labels(const std::filesystem::path& path, const LabelImage& labels);

}  // namespace medport::imaging::detail
