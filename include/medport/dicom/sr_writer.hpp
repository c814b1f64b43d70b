#pragma once
// Echo LV volumes and ejection fraction as a DICOM Structured Report: TID 1500 Measurement
// Report (DCMTK dcmsr/cmr), Enhanced SR. One measurement group (TID 1501) tracked as
// "LV volumes (medport echo-ef)" with EDV and ESV in ml and EF in % (codes.hpp: DICOM CID 12202
// LOINC codes, UCUM units); the measurement method is named in the group's finding text.
// Patient and study come from the first source instance; the sources are listed in the image
// library (TID 1600) and as evidence. Written atomically.
#include <filesystem>
#include <string>
#include <vector>

#include "medport/dicom/seg_writer.hpp"

namespace medport::dicom {

struct EchoMeasurements {
  double edv_ml = 0.0;
  double esv_ml = 0.0;
  double ef_percent = 0.0;  // finite
  std::string method;       // e.g. "biplane method of disks (CAMUS)"
};

// `sources`: the DICOM instances the measured masks were segmented from (at least one).
void write_echo_report(const std::filesystem::path& path, const std::vector<std::filesystem::path>& sources,
                       const EchoMeasurements& values, const CreatorInfo& creator);

}  // namespace medport::dicom
