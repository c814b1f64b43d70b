#include "dicom_test_data.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcrlerp.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmimage/diregist.h>  // colour support for DCMTK's JPEG encoder
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>

namespace medport::testing::dicom_data {
namespace fs = std::filesystem;
namespace {

void check(const OFCondition& c, const std::string& what) {
  if (c.bad()) throw std::runtime_error(what + ": " + c.text());
}

void register_encoders() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Lossy JPEG of monochrome images must keep the stored values: no min/max stretching.
    DJEncoderRegistration::registerCodecs(ECC_lossyYCbCr, EUC_default, OFFalse, 0, 0, 0, OFTrue, ESS_422, OFTrue,
                                          OFFalse, 0, 0, 0.0, 0.0, 0, 0, 0, 0, /*pUsePixelValues=*/OFFalse);
    DJLSEncoderRegistration::registerCodecs();
    DcmRLEEncoderRegistration::registerCodecs();
  });
}

std::string new_uid() {
  char uid[100];
  dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT);
  return uid;
}

void put(DcmDataset& ds, const DcmTagKey& tag, const std::string& value) {
  check(ds.putAndInsertString(tag, value.c_str()), std::string("put ") + DcmTag(tag).getTagName());
}

std::string numbers(std::initializer_list<double> values) {
  std::string out;
  char buf[64];
  for (double v : values) {
    std::snprintf(buf, sizeof buf, "%.10g", v);
    out += (out.empty() ? "" : "\\") + std::string(buf);
  }
  return out;
}

void patient_study(DcmDataset& ds, const std::string& study_uid, const std::string& series_uid,
                   const std::string& modality) {
  put(ds, DCM_PatientName, "Phantom^Test");
  put(ds, DCM_PatientID, "MEDPORT-TEST-1");
  put(ds, DCM_PatientBirthDate, "19700101");
  put(ds, DCM_PatientSex, "O");
  put(ds, DCM_StudyInstanceUID, study_uid);
  put(ds, DCM_StudyDate, "20240102");
  put(ds, DCM_StudyTime, "101500");
  put(ds, DCM_StudyID, "1");
  put(ds, DCM_AccessionNumber, "ACC1");
  put(ds, DCM_ReferringPhysicianName, "");
  put(ds, DCM_SeriesInstanceUID, series_uid);
  put(ds, DCM_SeriesNumber, "1");
  put(ds, DCM_Modality, modality);
  put(ds, DCM_Manufacturer, "medport tests");
  put(ds, DCM_ContentDate, "20240102");
  put(ds, DCM_ContentTime, "101500");
}

void save(DcmFileFormat& ff, const fs::path& file, Encoding encoding) {
  register_encoders();
  DcmDataset* ds = ff.getDataset();
  E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  std::unique_ptr<DcmRepresentationParameter> param;
  switch (encoding) {
    case Encoding::Explicit: break;
    case Encoding::JpegBaseline:
      xfer = EXS_JPEGProcess1;
      param = std::make_unique<DJ_RPLossy>(95);
      break;
    case Encoding::JpegLossless:
      xfer = EXS_JPEGProcess14SV1;
      param = std::make_unique<DJ_RPLossless>(1, 0);
      break;
    case Encoding::JpegLs:
      xfer = EXS_JPEGLSLossless;
      param = std::make_unique<DJLSRepresentationParameter>(0, OFTrue);
      break;
    case Encoding::Rle:
      xfer = EXS_RLELossless;
      param = std::make_unique<DcmRLERepresentationParameter>();
      break;
  }
  if (encoding != Encoding::Explicit) {
    check(ds->chooseRepresentation(xfer, param.get()), "encode " + encoding_name(encoding));
    if (!ds->canWriteXfer(xfer)) throw std::runtime_error("cannot write " + encoding_name(encoding));
  }
  fs::create_directories(file.parent_path());
  check(ff.saveFile(file.c_str(), xfer), "save " + file.string());
}

}  // namespace

std::string encoding_name(Encoding e) {
  switch (e) {
    case Encoding::Explicit: return "explicit";
    case Encoding::JpegBaseline: return "jpeg-baseline";
    case Encoding::JpegLossless: return "jpeg-lossless";
    case Encoding::JpegLs: return "jpeg-ls";
    case Encoding::Rle: return "rle";
  }
  return "?";
}

SeriesSpec oblique_ct_spec(int depth, int rows, int columns) {
  SeriesSpec s;
  s.depth = depth;
  s.rows = rows;
  s.columns = columns;
  // Rotated 30 degrees about z, then 20 degrees about the row axis: oblique in all three axes.
  const double a = 30.0 * M_PI / 180.0, b = 20.0 * M_PI / 180.0;
  const std::array<double, 3> row{std::cos(a), std::sin(a), 0.0};
  const std::array<double, 3> col0{-std::sin(a), std::cos(a), 0.0};
  const std::array<double, 3> z{0, 0, 1};
  std::array<double, 3> col{};
  for (int i = 0; i < 3; ++i) col[i] = std::cos(b) * col0[i] + std::sin(b) * z[i];
  s.orientation = {row[0], row[1], row[2], col[0], col[1], col[2]};
  s.stored.resize(static_cast<std::size_t>(depth) * rows * columns);
  for (int k = 0; k < depth; ++k)
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < columns; ++x)
        s.stored[(static_cast<std::size_t>(k) * rows + y) * columns + x] =
            (k * 523 + y * 97 + x * 31 + (x * y) % 17) % 4096;
  s.series_uid = new_uid();
  s.study_uid = new_uid();
  s.frame_of_reference_uid = new_uid();
  return s;
}

std::array<double, 3> slice_position(const SeriesSpec& s, int z) {
  const auto& o = s.orientation;
  const std::array<double, 3> n{o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
  return {s.origin[0] + z * s.slice_spacing * n[0], s.origin[1] + z * s.slice_spacing * n[1],
          s.origin[2] + z * s.slice_spacing * n[2]};
}

std::vector<fs::path> write_series(const fs::path& folder, const SeriesSpec& s, Encoding encoding) {
  // Shuffled names: slice z goes to a name whose order has nothing to do with z.
  std::vector<int> order(static_cast<std::size_t>(s.depth));
  for (int i = 0; i < s.depth; ++i) order[i] = i;
  std::mt19937 rng(1234);
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<fs::path> files(static_cast<std::size_t>(s.depth));
  const std::size_t plane = static_cast<std::size_t>(s.rows) * s.columns;
  for (int z = 0; z < s.depth; ++z) {
    DcmFileFormat ff;
    DcmDataset& ds = *ff.getDataset();
    put(ds, DCM_SOPClassUID, UID_CTImageStorage);
    put(ds, DCM_SOPInstanceUID, new_uid());
    patient_study(ds, s.study_uid, s.series_uid, s.modality);
    put(ds, DCM_FrameOfReferenceUID, s.frame_of_reference_uid);
    put(ds, DCM_PositionReferenceIndicator, "");
    put(ds, DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    put(ds, DCM_InstanceNumber, std::to_string(order[z] + 1));  // deliberately unrelated to position
    const auto p = slice_position(s, z);
    put(ds, DCM_ImagePositionPatient, numbers({p[0], p[1], p[2]}));
    const auto& o = s.orientation;
    put(ds, DCM_ImageOrientationPatient, numbers({o[0], o[1], o[2], o[3], o[4], o[5]}));
    put(ds, DCM_PixelSpacing, numbers({s.row_spacing, s.column_spacing}));
    put(ds, DCM_SliceThickness, numbers({s.slice_spacing}));
    put(ds, DCM_RescaleSlope, numbers({s.slope}));
    put(ds, DCM_RescaleIntercept, numbers({s.intercept}));
    put(ds, DCM_RescaleType, "HU");
    put(ds, DCM_KVP, "120");
    put(ds, DCM_AcquisitionNumber, "1");
    ds.putAndInsertUint16(DCM_SamplesPerPixel, 1);
    put(ds, DCM_PhotometricInterpretation, s.photometric);
    ds.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.rows));
    ds.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.columns));
    ds.putAndInsertUint16(DCM_BitsAllocated, 16);
    ds.putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(s.bits_stored));
    ds.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(s.bits_stored - 1));
    ds.putAndInsertUint16(DCM_PixelRepresentation, s.is_signed ? 1 : 0);
    std::vector<Uint16> words(plane);
    for (std::size_t i = 0; i < plane; ++i) {
      const std::int32_t v = s.stored[static_cast<std::size_t>(z) * plane + i];
      words[i] = static_cast<Uint16>(static_cast<std::uint32_t>(v) & ((1u << s.bits_stored) - 1u));
    }
    check(ds.putAndInsertUint16Array(DCM_PixelData, words.data(), static_cast<unsigned long>(plane)), "pixel data");
    char name[32];
    std::snprintf(name, sizeof name, "IM%04d.dcm", (order[z] * 7919) % 10000);
    files[z] = folder / name;
    save(ff, files[z], encoding);
  }
  return files;
}

CineSpec echo_cine_spec(int frames, int rows, int columns, bool rgb) {
  CineSpec s;
  s.frames = frames;
  s.rows = rows;
  s.columns = columns;
  s.rgb = rgb;
  const int c = rgb ? 3 : 1;
  s.pixels.resize(static_cast<std::size_t>(frames) * rows * columns * c);
  for (int f = 0; f < frames; ++f)
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < columns; ++x)
        for (int k = 0; k < c; ++k) {
          // A bright ellipse that breathes with the frame on a textured background.
          const double dx = (x - columns / 2.0) / (columns * (0.25 + 0.02 * f)), dy = (y - rows / 2.0) / (rows * 0.3);
          const int inside = dx * dx + dy * dy < 1.0 ? 150 : 0;
          s.pixels[((static_cast<std::size_t>(f) * rows + y) * columns + x) * c + k] =
              static_cast<std::uint8_t>((inside + 20 + (x * 7 + y * 3 + f * 11 + k * 40) % 60) % 256);
        }
  s.series_uid = new_uid();
  s.study_uid = new_uid();
  return s;
}

void write_cine(const fs::path& file, const CineSpec& s, Encoding encoding) {
  DcmFileFormat ff;
  DcmDataset& ds = *ff.getDataset();
  put(ds, DCM_SOPClassUID, s.frames > 1 ? UID_UltrasoundMultiframeImageStorage : UID_UltrasoundImageStorage);
  put(ds, DCM_SOPInstanceUID, new_uid());
  patient_study(ds, s.study_uid, s.series_uid, "US");
  put(ds, DCM_ImageType, "ORIGINAL\\PRIMARY");
  put(ds, DCM_InstanceNumber, "1");
  if (s.frames > 1) {
    put(ds, DCM_NumberOfFrames, std::to_string(s.frames));
    put(ds, DCM_FrameTime, "33.3");
    check(ds.putAndInsertTagKey(DCM_FrameIncrementPointer, DCM_FrameTime), "frame increment pointer");
  }
  if (s.with_region) {
    DcmItem* region = nullptr;
    check(ds.findOrCreateSequenceItem(DCM_SequenceOfUltrasoundRegions, region, 0), "regions");
    region->putAndInsertUint32(DCM_RegionLocationMinX0, 0);
    region->putAndInsertUint32(DCM_RegionLocationMinY0, 0);
    region->putAndInsertUint32(DCM_RegionLocationMaxX1, static_cast<Uint32>(s.columns - 1));
    region->putAndInsertUint32(DCM_RegionLocationMaxY1, static_cast<Uint32>(s.rows - 1));
    region->putAndInsertUint16(DCM_RegionSpatialFormat, 1);
    region->putAndInsertUint16(DCM_RegionDataType, 1);
    region->putAndInsertUint32(DCM_RegionFlags, 0);
    region->putAndInsertUint16(DCM_PhysicalUnitsXDirection, 3);
    region->putAndInsertUint16(DCM_PhysicalUnitsYDirection, 3);
    region->putAndInsertFloat64(DCM_PhysicalDeltaX, s.delta_x_cm);
    region->putAndInsertFloat64(DCM_PhysicalDeltaY, s.delta_y_cm);
    // A smaller Doppler-like region with other deltas that must not be chosen.
    DcmItem* small = nullptr;
    check(ds.findOrCreateSequenceItem(DCM_SequenceOfUltrasoundRegions, small, 1), "regions");
    small->putAndInsertUint32(DCM_RegionLocationMinX0, 0);
    small->putAndInsertUint32(DCM_RegionLocationMinY0, 0);
    small->putAndInsertUint32(DCM_RegionLocationMaxX1, 3);
    small->putAndInsertUint32(DCM_RegionLocationMaxY1, 3);
    small->putAndInsertUint16(DCM_RegionSpatialFormat, 1);
    small->putAndInsertUint16(DCM_RegionDataType, 1);
    small->putAndInsertUint32(DCM_RegionFlags, 0);
    small->putAndInsertUint16(DCM_PhysicalUnitsXDirection, 3);
    small->putAndInsertUint16(DCM_PhysicalUnitsYDirection, 3);
    small->putAndInsertFloat64(DCM_PhysicalDeltaX, 0.5);
    small->putAndInsertFloat64(DCM_PhysicalDeltaY, 0.5);
  }
  const int c = s.rgb ? 3 : 1;
  ds.putAndInsertUint16(DCM_SamplesPerPixel, static_cast<Uint16>(c));
  std::string photometric = s.photometric.empty() ? (s.rgb ? "RGB" : "MONOCHROME2") : s.photometric;
  put(ds, DCM_PhotometricInterpretation, photometric);
  if (s.rgb) ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
  ds.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.rows));
  ds.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.columns));
  ds.putAndInsertUint16(DCM_BitsAllocated, 8);
  ds.putAndInsertUint16(DCM_BitsStored, 8);
  ds.putAndInsertUint16(DCM_HighBit, 7);
  ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
  std::vector<Uint8> bytes(s.pixels.begin(), s.pixels.end());
  if (photometric == "YBR_FULL") {
    for (std::size_t i = 0; i + 2 < bytes.size(); i += 3) {
      const double r = s.pixels[i], g = s.pixels[i + 1], b = s.pixels[i + 2];
      auto clamp = [](double v) { return static_cast<Uint8>(std::clamp(std::lround(v), 0L, 255L)); };
      bytes[i] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
      bytes[i + 1] = clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
      bytes[i + 2] = clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
    }
  }
  check(ds.putAndInsertUint8Array(DCM_PixelData, bytes.data(), static_cast<unsigned long>(bytes.size())), "pixels");
  save(ff, file, encoding);
}

void edit_file(const fs::path& file, const std::function<void(void*)>& edit) {
  DcmFileFormat ff;
  check(ff.loadFile(file.c_str()), "load " + file.string());
  ff.loadAllDataIntoMemory();
  edit(ff.getDataset());
  const E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
  check(ff.saveFile(file.c_str(), xfer), "save " + file.string());
}

void remove_attribute(const fs::path& file, std::uint16_t group, std::uint16_t element) {
  edit_file(file, [&](void* ds) { static_cast<DcmDataset*>(ds)->findAndDeleteElement(DcmTagKey(group, element)); });
}

void set_attribute(const fs::path& file, std::uint16_t group, std::uint16_t element, const std::string& value) {
  edit_file(file, [&](void* ds) {
    check(static_cast<DcmDataset*>(ds)->putAndInsertString(DcmTagKey(group, element), value.c_str()), "set");
  });
}

void lengthen_pixel_data(const fs::path& file, std::size_t extra) {
  edit_file(file, [&](void* ds) {
    auto* dataset = static_cast<DcmDataset*>(ds);
    DcmElement* element = nullptr;
    check(dataset->findAndGetElement(DCM_PixelData, element), "find PixelData");
    Uint8* bytes = nullptr;
    check(element->getUint8Array(bytes), "PixelData bytes");
    std::vector<Uint8> longer(bytes, bytes + element->getLength());
    longer.resize(longer.size() + extra, 1);
    check(element->putUint8Array(longer.data(), static_cast<unsigned long>(longer.size())), "set PixelData");
  });
}

void declare_transfer_syntax(const fs::path& file, const std::string& uid) {
  DcmFileFormat ff;
  check(ff.loadFile(file.c_str()), "load " + file.string());
  ff.loadAllDataIntoMemory();
  const E_TransferSyntax xfer = ff.getDataset()->getOriginalXfer();
  check(ff.getMetaInfo()->putAndInsertString(DCM_TransferSyntaxUID, uid.c_str()), "set TransferSyntaxUID");
  check(ff.saveFile(file.c_str(), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0, EWM_dontUpdateMeta),
        "save " + file.string());
}

}  // namespace medport::testing::dicom_data
