#include "transfer_syntax.hpp"

#include "medport/util/printable.hpp"

namespace medport::dicom::detail {

std::string declared_transfer_syntax(DcmFileFormat& format) {
  const auto uid = find_string(*format.getMetaInfo(), DCM_TransferSyntaxUID);
  if (!uid || uid->empty()) return "";
  const DcmXfer declared(uid->c_str());
  const std::string name = declared.getXfer() == EXS_Unknown ? "unknown" : declared.getXferName();
  return "TransferSyntaxUID " + printable_line(*uid, 80) + " (" + name + ")";
}

void check_transfer_syntax(DcmFileFormat& format, const std::string& file) {
  const auto uid = find_string(*format.getMetaInfo(), DCM_TransferSyntaxUID);
  if (!uid) return;  // no value in the meta header: DCMTK detects the encoding, as for a bare data set
  const DcmXfer declared(uid->c_str());
  if (declared.getXfer() == EXS_Unknown)
    fail(file, DCM_TransferSyntaxUID, "unknown transfer syntax '" + printable_line(*uid, 80) + "'");
}

}  // namespace medport::dicom::detail
