#pragma once
// The DICOM input flags every image-reading command shares (segment, fewshot, classify, echo-ef):
// which series of a folder and which frames of a cine (dicom/volume.hpp).
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "medport/dicom/volume.hpp"

namespace medport::cli {

struct DicomFlags {
  std::string series;
  std::vector<std::string> rules;
  int frame = 0;
  std::string frames;
};

void add_dicom_flags(CLI::App& cmd, DicomFlags& flags);
// The selection the flags describe; UsageError for a malformed rule or frame list.
dicom::Selection dicom_selection(const DicomFlags& flags);

}  // namespace medport::cli
