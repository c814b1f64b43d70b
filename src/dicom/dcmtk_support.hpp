#pragma once
// Small helpers over DCMTK's dataset API: codec registration, and attribute access whose
// failures are InputErrors naming the file and the attribute.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>

#include <optional>
#include <string>
#include <vector>

namespace medport::dicom::detail {

// Registers DCMTK's JPEG, JPEG-LS and RLE decoders and encoders once per process.
void register_codecs();

// The attribute's keyword ("PixelSpacing") or, when unknown, its tag "(0028,0030)".
std::string attribute_name(const DcmTagKey& tag);

// Throws InputError("<file>: <Keyword> (gggg,eeee): <what>").
[[noreturn]] void fail(const std::string& file, const DcmTagKey& tag, const std::string& what);

std::optional<std::string> find_string(DcmItem& item, const DcmTagKey& tag);
std::string require_string(DcmItem& item, const DcmTagKey& tag, const std::string& file);
std::optional<long> find_integer(DcmItem& item, const DcmTagKey& tag, const std::string& file);
long require_integer(DcmItem& item, const DcmTagKey& tag, const std::string& file);
// Every value of a multi-valued decimal/float attribute; empty when absent.
std::vector<double> find_numbers(DcmItem& item, const DcmTagKey& tag, const std::string& file);
std::vector<double> require_numbers(DcmItem& item, const DcmTagKey& tag, std::size_t count, const std::string& file);

// Loads a Part 10 file (metadata only with `header_only`, stopping before PixelData).
// InputError naming the file when DCMTK cannot parse it.
void load_file(DcmFileFormat& format, const std::string& file, bool header_only);

}  // namespace medport::dicom::detail
