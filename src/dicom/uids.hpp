#pragma once
// New DICOM UIDs (DCMTK's generator under its site root) and the current date/time.
#include <string>
#include <utility>

namespace medport::dicom::detail {

std::string new_uid();
// ("YYYYMMDD", "HHMMSS") in local time.
std::pair<std::string, std::string> date_time_now();

}  // namespace medport::dicom::detail
