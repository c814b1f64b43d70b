#pragma once
// Reading images/volumes (PNG, JPEG, BMP, TIFF, NIfTI, MetaImage, npy) into Image, writing label
// maps back in the input's format and geometry, and nnU-Net's multi-channel case convention
// (CASE_0000.nii.gz, CASE_0001.nii.gz, ...). Every bad file is an InputError naming the file.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "medport/imaging/image.hpp"
#include "medport/imaging/label_image.hpp"
#include "medport/imaging/non_finite.hpp"

namespace medport::imaging {

struct ReadOptions {
  // Replaces the spacing from the file (array order, one value per spatial axis).
  std::optional<std::vector<double>> spacing;
  // Natural images: convert colour to one gray channel (OpenCV's BGR2GRAY weights) instead of
  // keeping R, G, B (and A) as separate channels.
  bool to_gray = false;
  // .npy arrays with 3 axes are (Z, Y, X) unless this says they are (C, Y, X).
  bool npy_channels_first = false;
  // NaN / +-inf pixel values: refused by default (an InputError naming the file); `--nan-to-num`.
  NonFinitePolicy non_finite;
  // DICOM folders and multi-frame files: which series and frames to read.
  dicom::Selection dicom;
};

// Format from the file name: .png .jpg .jpeg .bmp .tif .tiff .nii .nii.gz .mhd .mha .npy
// (case-insensitive); otherwise DICOM for .dcm, folders and files with the DICM magic at offset
// 128 (detected by content); throws InputError for anything else.
ImageFormat format_from_path(const std::filesystem::path& path);
// The file ending with its dot: ".nii.gz", ".png", ...
std::string file_ending(const std::filesystem::path& path);

// Natural images: 8/16-bit or float, gray (1 channel), or colour as R, G, B (, A) channels;
// multi-page TIFFs of one size are read as a (1, Z, Y, X) volume. Spacing defaults to 1 (a TIFF
// takes it from CASE.json {"spacing": [...]} beside it when present, as nnU-Net's Tiff3DIO).
// NIfTI: (C=1, Z, Y, X) or (1, Y, X) from the voxel grid (scl_slope applied as nifticlib/
// SimpleITK do), spacing (dz, dy, dx) from pixdim; a 4th dimension (dim[4] > 1) is channels.
// MetaImage: NDims 2 or 3, ElementNumberOfChannels as channels.
// npy: (Y, X), (Z, Y, X) or, with npy_channels_first, (C, Y, X); 4 axes are (C, Z, Y, X).
// DICOM (dicom/volume.hpp): a file, a series folder or the selected frames of a cine, as
// (C, Y, X) for one frame or (C, Z, Y, X); spacing from PixelSpacing or the ultrasound regions
// (InputError when neither is there and options.spacing is not given).
Image read_image(const std::filesystem::path& path, const ReadOptions& options = {});

// Several single-channel files (same spatial shape) stacked as channels, geometry and spacing
// from the first. Throws InputError naming the file whose shape differs.
Image read_channels(const std::vector<std::filesystem::path>& files, const ReadOptions& options = {});

// Writes a label map (uint8) with the reference image's geometry, in the format the path's
// ending names (normally the input's own): PNG for 2D natural images, NIfTI with the same
// header/affine, MetaImage with the same header fields (MET_UCHAR, zlib-compressed for .mha),
// npy. DICOM inputs have no single-file label format of their own: write NIfTI (with the
// series' affine) or a DICOM SEG (dicom/seg_writer.hpp). `labels.shape` must equal reference.spatial_shape() (or it with the nnU-Net 2D layout's
// leading 1). Written atomically.
void write_label_map(const std::filesystem::path& path, const LabelImage& labels, const Image& reference);

// The ending a label map of `image` (read from `input`) is written with: the input's own
// (file_ending), ".png" for JPEG (lossy), or ".nii.gz" for DICOM, which has no single-file
// label format of its own.
std::string label_map_ending(const Image& image, const std::filesystem::path& input);

// Writes float32 maps `maps` (C, *spatial) - probabilities, confidence - with the reference
// image's geometry: NIfTI (.nii / .nii.gz; the reference's header and affine, C as the 4th
// dimension when C > 1) or npy (the array as it is). `spatial` must equal the reference's
// spatial shape. Written atomically.
void write_float_maps(const std::filesystem::path& path, const Tensor& maps, const Image& reference);

// nnU-Net's case convention: files `<case>_<XXXX><ending>` in `folder` grouped by case,
// channels ordered by XXXX. Cases sorted by identifier. Files with other endings are ignored.
// Throws InputError when a case misses a channel or channel counts differ between cases.
struct ImageCase {
  std::string identifier;
  std::vector<std::filesystem::path> channel_files;
};
std::vector<ImageCase> group_cases(const std::filesystem::path& folder, const std::string& ending);

}  // namespace medport::imaging
