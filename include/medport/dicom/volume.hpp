#pragma once
// DICOM images, series and ultrasound cines as one float volume, read with DCMTK.
//
//   dicom::Selection pick;                        // all frames, the only series
//   pick.series_uid = "1.2.3";                    // or rules on attributes:
//   pick.rules.push_back({"Modality", "^US$"});   //   keyword -> regex (case-insensitive search)
//   pick.frames = {1, 17};                        // 1-based frames of a multi-frame file
//   dicom::Volume v = dicom::read_volume("study/", pick);
//
// What is read:
//  - a file (DICM magic at offset 128): one frame is a 2D image; several frames (an ultrasound
//    cine) are stacked as (F, Y, X), F = the selected frames in the order given;
//  - a folder: every DICOM file below it, grouped by SeriesInstanceUID; the selection must leave
//    exactly one series. Single-frame files are slices sorted by the projection of
//    ImagePositionPatient on the slice normal (row x column cosines of ImageOrientationPatient),
//    never by file name; one multi-frame file is read as above.
// Pixels: uncompressed, JPEG (baseline and lossless), JPEG-LS and RLE transfer syntaxes
// (DCMTK's codecs); MONOCHROME2, MONOCHROME1 (inverted over the stored range so bright means
// high, as displayed), RGB, YBR_FULL and YBR_FULL_422 (to RGB, ITU-R BT.601 full range);
// RescaleSlope/RescaleIntercept applied in double precision, stored as float.
// Spacing: PixelSpacing (row, column); without it, for ultrasound, the physical deltas (cm) of
// the largest 2D region in SequenceOfUltrasoundRegions; otherwise none (has_spacing false).
// Anything malformed or unsupported is an InputError naming the file and the attribute.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace medport::dicom {

struct Selection {
  std::optional<std::string> series_uid;                    // SeriesInstanceUID to keep
  std::vector<std::pair<std::string, std::string>> rules;   // attribute keyword -> regex; all must match
  std::vector<int> frames;                                  // 1-based frame numbers; empty: all
};

// Where one slice (or frame) of a volume came from: the SOP instance and its frame (1-based;
// 0 for a single-frame instance, which has no frame number).
struct SliceSource {
  std::string file;
  std::string sop_class_uid;
  std::string sop_instance_uid;
  int frame = 0;
};

// Everything about a volume except its pixels: grid, geometry and the instances behind it. A
// label map computed on the volume is written back as DICOM SEG from this (seg_writer.hpp).
struct Source {
  std::int64_t depth = 1, rows = 0, columns = 0;  // Z (slices or frames), Y, X
  bool is_2d = true;        // one frame: an image, not a volume
  bool is_cine = false;     // Z holds frames over time (multi-frame file), not positions in space
  bool has_spacing = false;
  std::array<double, 3> spacing{1.0, 1.0, 1.0};  // (z, row, column) mm; z = 1 for images and cines
  bool has_geometry = false;                      // ImagePositionPatient/ImageOrientationPatient read
  std::array<double, 3> origin{};                 // LPS mm: position of the first voxel of slice 0
  // LPS direction cosines, row-major 3x3; columns: along a row (x), down a column (y), slice
  // normal (z, the sort direction), as SimpleITK's GetDirection().
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};
  std::vector<std::array<double, 3>> positions;   // ImagePositionPatient per slice (has_geometry)
  std::string modality, study_uid, series_uid, frame_of_reference_uid;
  bool lossy = false;                             // a source went through lossy compression
  std::vector<SliceSource> slices;                // one per Z, in array order
};

struct Volume {
  Source source;
  std::int64_t channels = 1;   // 1 (monochrome) or 3 (R, G, B)
  std::vector<float> data;     // (C, Z, Y, X), X fastest
  std::string original_dtype;  // "uint8", "int16", ...
};

// True when the file has the DICOM Part 10 magic "DICM" at offset 128.
bool is_dicom_file(const std::filesystem::path& path);
// True for a folder holding at least one DICOM file (searched recursively).
bool is_dicom_folder(const std::filesystem::path& path);

Volume read_volume(const std::filesystem::path& file_or_folder, const Selection& selection = {});

// Patient and study of one instance (header only).
struct StudyInfo {
  std::string patient_id, study_uid;
};
StudyInfo study_info(const std::filesystem::path& file);

// Series found below a folder (for listing and error messages).
struct SeriesInfo {
  std::string series_uid, modality, description;
  std::size_t files = 0;
};
std::vector<SeriesInfo> list_series(const std::filesystem::path& folder);

// "Modality=US" -> {"Modality", "US"}; UsageError when there is no '=' or the keyword is unknown.
std::pair<std::string, std::string> parse_rule(const std::string& text);
// "1,17" -> {1, 17}; "all" -> {}; UsageError for anything else.
std::vector<int> parse_frames(const std::string& text);

}  // namespace medport::dicom
