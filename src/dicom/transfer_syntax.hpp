#pragma once
// The transfer syntax a Part 10 file declares, checked against how DCMTK read its data set.
#include <string>

#include "dcmtk_support.hpp"

namespace medport::dicom::detail {

// "TransferSyntaxUID 1.2.840.10008.1.2.1.99 (Deflated Explicit VR Little Endian)" as the meta
// header declares it, for messages; empty when the meta header holds none.
std::string declared_transfer_syntax(DcmFileFormat& format);

// The meta header's TransferSyntaxUID must name a syntax DCMTK knows: for an unknown UID DCMTK
// guesses the encoding from the bytes, which would silently "repair" the file. An InputError
// naming the file and the UID instead. (A known syntax that does not fit the data set - Deflate
// over plain data, implicit over explicit VR - already fails DCMTK's parse, see load_file.)
void check_transfer_syntax(DcmFileFormat& format, const std::string& file);

}  // namespace medport::dicom::detail
