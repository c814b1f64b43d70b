#pragma once
// A label map as a DICOM Segmentation (binary SEG, DCMTK dcmseg), one segment per label.
//
//   dicom::SegmentInfo lv{1, "LV"};                       // anatomy codes from codes.hpp
//   dicom::write_segmentation("case_seg.dcm", image.geometry.dicom.value(), labels, {lv, ...}, about);
//
// The SEG takes Patient, Study and Frame of Reference from the first source instance, and has
// one frame per (segment, slice) in segment-major order. Each frame references its source
// instance (and frame of a multi-frame source) in the Derivation Image functional group and, for
// sources with ImagePositionPatient/ImageOrientationPatient, carries the slice's plane position;
// orientation and pixel measures are shared. Dimensions: ReferencedSegmentNumber, then
// ImagePositionPatient (spatial sources) or the source frame (cines). Written atomically.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "medport/dicom/volume.hpp"

namespace medport::dicom {

struct SegmentInfo {
  std::uint8_t label = 0;  // value in the label map (1..255)
  std::string name;        // SegmentLabel; also picks the anatomy codes
};

struct CreatorInfo {
  std::string algorithm_name = "medport";   // SegmentAlgorithmName
  std::string algorithm_version;            // model / software version (SoftwareVersions)
  std::string series_description = "medport segmentation";
  std::string manufacturer = "medport";
  std::string model_name = "medport";
};

// `labels` is (Z, Y, X) over source's grid (Z = source.depth). Labels not in `segments` are an
// InputError, as is a grid that does not match the source.
void write_segmentation(const std::filesystem::path& path, const Source& source, std::span<const std::uint8_t> labels,
                        const std::vector<SegmentInfo>& segments, const CreatorInfo& creator);

}  // namespace medport::dicom
