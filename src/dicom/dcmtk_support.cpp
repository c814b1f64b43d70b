#include "dcmtk_support.hpp"

#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/oflog/oflog.h>

#include <cmath>
#include <cstdio>
#include <mutex>

#include "medport/error.hpp"
#include "medport/util/printable.hpp"
#include "transfer_syntax.hpp"

namespace medport::dicom::detail {

void register_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK logs its own "E: ..." / "W: ..." lines to stderr; every failure reaches medport as an
    // OFCondition and becomes one InputError line, so DCMTK's logger is switched off.
    OFLog::configure(OFLogger::OFF_LOG_LEVEL);
    // Colour JPEG is converted from YCbCr to RGB and PhotometricInterpretation updated.
    DJDecoderRegistration::registerCodecs(EDC_photometricInterpretation);
    DJEncoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DJLSEncoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
    DcmRLEEncoderRegistration::registerCodecs();
  });
}

std::string attribute_name(const DcmTagKey& tag) {
  char code[16];
  std::snprintf(code, sizeof code, "(%04X,%04X)", tag.getGroup(), tag.getElement());
  DcmTag full(tag);
  const char* name = full.getTagName();
  if (name == nullptr || std::string(name) == DcmTag_ERROR_TagName) return code;
  return std::string(name) + " " + code;
}

void fail(const std::string& file, const DcmTagKey& tag, const std::string& what) {
  throw InputError(file, attribute_name(tag) + ": " + what);
}

std::optional<std::string> find_string(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).bad()) return std::nullopt;
  std::string s = value.c_str();
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

std::string require_string(DcmItem& item, const DcmTagKey& tag, const std::string& file) {
  auto value = find_string(item, tag);
  if (!value || value->empty()) fail(file, tag, "missing or empty");
  return *value;
}

namespace {

// One value of a numeric element, whatever its VR (US/UL/SS/SL/FL/FD binary, DS/IS text).
bool number_at(DcmElement& element, unsigned long i, double& out) {
  switch (element.ident()) {
    case EVR_US: { Uint16 v = 0; if (element.getUint16(v, i).bad()) return false; out = v; return true; }
    case EVR_UL: { Uint32 v = 0; if (element.getUint32(v, i).bad()) return false; out = v; return true; }
    case EVR_SS: { Sint16 v = 0; if (element.getSint16(v, i).bad()) return false; out = v; return true; }
    case EVR_SL: { Sint32 v = 0; if (element.getSint32(v, i).bad()) return false; out = v; return true; }
    case EVR_FL: { Float32 v = 0; if (element.getFloat32(v, i).bad()) return false; out = v; return true; }
    case EVR_FD:
    case EVR_DS: { Float64 v = 0; if (element.getFloat64(v, i).bad()) return false; out = v; return true; }
    case EVR_IS: { Sint32 v = 0; if (element.getSint32(v, i).bad()) return false; out = v; return true; }
    default: return false;
  }
}

}  // namespace

std::vector<double> find_numbers(DcmItem& item, const DcmTagKey& tag, const std::string& file) {
  DcmElement* element = nullptr;
  if (item.findAndGetElement(tag, element).bad() || element == nullptr) return {};
  std::vector<double> values;
  const unsigned long n = element->getVM();
  if (element->getLength() == 0) return values;
  for (unsigned long i = 0; i < n; ++i) {
    double v = 0;
    const bool is_number = number_at(*element, i, v);
    if (!is_number || !std::isfinite(v)) {
      OFString text;
      element->getOFString(text, i);
      const std::string which = n > 1 ? " (value " + std::to_string(i + 1) + " of " + std::to_string(n) + ")" : "";
      fail(file, tag, "'" + printable_line(text.c_str(), 64) + "'" + which + (is_number ? " is not finite" : " is not a number"));
    }
    values.push_back(v);
  }
  return values;
}

std::vector<double> require_numbers(DcmItem& item, const DcmTagKey& tag, std::size_t count, const std::string& file) {
  auto values = find_numbers(item, tag, file);
  if (values.empty()) fail(file, tag, "missing");
  if (values.size() != count)
    fail(file, tag, "expected " + std::to_string(count) + " values, found " + std::to_string(values.size()));
  return values;
}

std::optional<long> find_integer(DcmItem& item, const DcmTagKey& tag, const std::string& file) {
  const auto values = find_numbers(item, tag, file);
  if (values.empty()) return std::nullopt;
  if (values.size() != 1 || values[0] != std::floor(values[0]) || std::fabs(values[0]) > 2147483647.0)
    fail(file, tag, "expected one integer");
  return static_cast<long>(values[0]);
}

long require_integer(DcmItem& item, const DcmTagKey& tag, const std::string& file) {
  const auto value = find_integer(item, tag, file);
  if (!value) fail(file, tag, "missing");
  return *value;
}

void load_file(DcmFileFormat& format, const std::string& file, bool header_only) {
  register_codecs();
  const OFCondition status = header_only ? format.loadFileUntilTag(file.c_str(), EXS_Unknown, EGL_noChange,
                                                                    DCM_MaxReadLength, ERM_autoDetect, DCM_PixelData)
                                         : format.loadFile(file.c_str());
  if (status.bad()) {
    // A Deflate syntax over plain data fails here ("ZLib Error: ..."): say what was declared.
    const std::string syntax = declared_transfer_syntax(format);
    throw InputError(file, std::string("not a readable DICOM file (") + status.text() + ")" +
                               (syntax.empty() ? "" : "; the file declares " + syntax));
  }
  check_transfer_syntax(format, file);
}

}  // namespace medport::dicom::detail
