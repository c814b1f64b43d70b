// DICOM input: series, cines, transfer syntaxes and photometrics read back to the arrays the
// tests wrote with DCMTK; malformed files are InputErrors naming the file and the attribute.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>

#include "dicom_test_data.hpp"
#include "hostile_files.hpp"
#include "medport/dicom/volume.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::testing;
namespace data = medport::testing::dicom_data;

std::string input_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

class SeriesEncodings : public ::testing::TestWithParam<data::Encoding> {};

TEST_P(SeriesEncodings, ObliqueShuffledSeriesReadsBackInSpaceOrder) {
  TempDir dir;
  const auto spec = data::oblique_ct_spec();
  data::write_series(dir.path() / "ct", spec, GetParam());
  const auto image = imaging::read_image(dir.path() / "ct");
  ASSERT_EQ(image.shape, (Shape{1, spec.depth, spec.rows, spec.columns}));
  EXPECT_EQ(image.geometry.format, imaging::ImageFormat::Dicom);
  EXPECT_EQ(image.original_dtype, "uint16");
  ASSERT_EQ(image.data.size(), spec.stored.size());
  for (std::size_t i = 0; i < spec.stored.size(); ++i)
    ASSERT_EQ(image.data[i], static_cast<float>(spec.stored[i] * spec.slope + spec.intercept)) << "voxel " << i;
  ASSERT_EQ(image.spacing.size(), 3u);
  EXPECT_NEAR(image.spacing[0], spec.slice_spacing, 1e-6);
  EXPECT_NEAR(image.spacing[1], spec.row_spacing, 1e-9);
  EXPECT_NEAR(image.spacing[2], spec.column_spacing, 1e-9);
  const auto origin = data::slice_position(spec, 0);
  ASSERT_EQ(image.geometry.origin.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(image.geometry.origin[i], origin[i], 1e-6);
  const auto& o = spec.orientation;
  const double normal[3] = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
  ASSERT_EQ(image.geometry.direction.size(), 9u);
  for (int r = 0; r < 3; ++r) {
    EXPECT_NEAR(image.geometry.direction[r * 3 + 0], o[r], 1e-6);
    EXPECT_NEAR(image.geometry.direction[r * 3 + 1], o[3 + r], 1e-6);
    EXPECT_NEAR(image.geometry.direction[r * 3 + 2], normal[r], 1e-6);
  }
  ASSERT_TRUE(image.geometry.dicom.has_value());
  EXPECT_EQ(image.geometry.dicom->series_uid, spec.series_uid);
  ASSERT_EQ(image.geometry.dicom->slices.size(), static_cast<std::size_t>(spec.depth));
}

INSTANTIATE_TEST_SUITE_P(Lossless, SeriesEncodings,
                         ::testing::Values(data::Encoding::Explicit, data::Encoding::JpegLossless,
                                           data::Encoding::JpegLs, data::Encoding::Rle),
                         [](const auto& info) {
                           std::string n = data::encoding_name(info.param);
                           for (auto& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST(DicomSeries, SignedStoredValuesAndMonochrome1) {
  TempDir dir;
  auto spec = data::oblique_ct_spec(3, 8, 9);
  spec.is_signed = true;
  spec.bits_stored = 16;
  spec.slope = 1.25;
  spec.intercept = 3.5;
  for (std::size_t i = 0; i < spec.stored.size(); ++i) spec.stored[i] -= 2000;
  data::write_series(dir.path() / "signed", spec);
  const auto image = imaging::read_image(dir.path() / "signed");
  for (std::size_t i = 0; i < spec.stored.size(); ++i)
    ASSERT_FLOAT_EQ(image.data[i], static_cast<float>(spec.stored[i] * 1.25 + 3.5));

  auto mono1 = data::oblique_ct_spec(2, 8, 9);
  mono1.photometric = "MONOCHROME1";
  mono1.slope = 1.0;
  mono1.intercept = 0.0;
  data::write_series(dir.path() / "mono1", mono1);
  const auto inverted = imaging::read_image(dir.path() / "mono1");
  for (std::size_t i = 0; i < mono1.stored.size(); ++i)  // shown bright where stored low: 4095 - v
    ASSERT_EQ(inverted.data[i], static_cast<float>(4095 - mono1.stored[i]));
}

TEST(DicomCine, FramesSpacingFromUltrasoundRegionsAndFrameSelection) {
  TempDir dir;
  const auto spec = data::echo_cine_spec();
  const auto file = dir.path() / "cine.dcm";
  data::write_cine(file, spec);
  const auto all = imaging::read_image(file);
  ASSERT_EQ(all.shape, (Shape{1, spec.frames, spec.rows, spec.columns}));
  for (std::size_t i = 0; i < spec.pixels.size(); ++i) ASSERT_EQ(all.data[i], spec.pixels[i]);
  // The largest 2D region's deltas (cm -> mm), not the small region's 5 mm.
  EXPECT_NEAR(all.spacing[1], spec.delta_y_cm * 10, 1e-9);
  EXPECT_NEAR(all.spacing[2], spec.delta_x_cm * 10, 1e-9);
  ASSERT_TRUE(all.geometry.dicom && all.geometry.dicom->is_cine);

  imaging::ReadOptions pick;
  pick.dicom.frames = {4, 2};
  const auto two = imaging::read_image(file, pick);
  ASSERT_EQ(two.shape, (Shape{1, 2, spec.rows, spec.columns}));
  const std::size_t plane = static_cast<std::size_t>(spec.rows) * spec.columns;
  for (std::size_t i = 0; i < plane; ++i) {
    ASSERT_EQ(two.data[i], spec.pixels[3 * plane + i]);
    ASSERT_EQ(two.data[plane + i], spec.pixels[plane + i]);
  }
  EXPECT_EQ(two.geometry.dicom->slices[0].frame, 4);

  pick.dicom.frames = {3};
  const auto one = imaging::read_image(file, pick);
  ASSERT_EQ(one.shape, (Shape{1, spec.rows, spec.columns}));
  EXPECT_EQ(one.spacing, (std::vector<double>{spec.delta_y_cm * 10, spec.delta_x_cm * 10}));
  for (std::size_t i = 0; i < plane; ++i) ASSERT_EQ(one.data[i], spec.pixels[2 * plane + i]);

  pick.dicom.frames = {9};
  const auto message = input_error_of([&] { imaging::read_image(file, pick); });
  EXPECT_NE(message.find("cine.dcm"), std::string::npos) << message;
  EXPECT_NE(message.find("NumberOfFrames"), std::string::npos) << message;
}

TEST(DicomCine, CompressedCopies) {
  TempDir dir;
  const auto spec = data::echo_cine_spec();
  for (auto encoding : {data::Encoding::Rle, data::Encoding::JpegLs, data::Encoding::JpegLossless}) {
    const auto file = dir.path() / (data::encoding_name(encoding) + ".dcm");
    data::write_cine(file, spec, encoding);
    const auto image = imaging::read_image(file);
    for (std::size_t i = 0; i < spec.pixels.size(); ++i)
      ASSERT_EQ(image.data[i], spec.pixels[i]) << data::encoding_name(encoding) << " voxel " << i;
  }
  // JPEG baseline is lossy: close, not equal.
  const auto file = dir.path() / "baseline.dcm";
  data::write_cine(file, spec, data::Encoding::JpegBaseline);
  const auto image = imaging::read_image(file);
  double sum = 0;
  for (std::size_t i = 0; i < spec.pixels.size(); ++i) sum += std::fabs(image.data[i] - spec.pixels[i]);
  EXPECT_LT(sum / static_cast<double>(spec.pixels.size()), 3.0);
  EXPECT_TRUE(image.geometry.dicom->lossy);
}

TEST(DicomCine, ColourPhotometrics) {
  TempDir dir;
  auto spec = data::echo_cine_spec(2, 16, 20, true);
  const std::size_t n = static_cast<std::size_t>(spec.frames) * spec.rows * spec.columns;
  auto expect_rgb = [&](const imaging::Image& image, double tolerance, const std::string& what) {
    ASSERT_EQ(image.shape, (Shape{3, spec.frames, spec.rows, spec.columns})) << what;
    double worst = 0, sum = 0;
    for (std::size_t i = 0; i < n; ++i)
      for (int c = 0; c < 3; ++c) {
        const double d = std::fabs(image.data[c * n + i] - spec.pixels[i * 3 + c]);
        worst = std::max(worst, d);
        sum += d;
      }
    EXPECT_LE(tolerance > 5 ? sum / (3.0 * n) : worst, tolerance) << what;
  };
  data::write_cine(dir.path() / "rgb.dcm", spec);
  expect_rgb(imaging::read_image(dir.path() / "rgb.dcm"), 0, "RGB");
  data::write_cine(dir.path() / "rgb_rle.dcm", spec, data::Encoding::Rle);
  expect_rgb(imaging::read_image(dir.path() / "rgb_rle.dcm"), 0, "RGB RLE");
  // DCMTK's baseline encoder stores colour as YBR_FULL_422; the reader converts back to RGB.
  data::write_cine(dir.path() / "rgb_jpeg.dcm", spec, data::Encoding::JpegBaseline);
  expect_rgb(imaging::read_image(dir.path() / "rgb_jpeg.dcm"), 8, "JPEG baseline (mean)");
  spec.photometric = "YBR_FULL";
  data::write_cine(dir.path() / "ybr.dcm", spec);
  expect_rgb(imaging::read_image(dir.path() / "ybr.dcm"), 2.0, "YBR_FULL");

  imaging::ReadOptions gray;
  gray.to_gray = true;
  const auto g = imaging::read_image(dir.path() / "rgb.dcm", gray);
  ASSERT_EQ(g.shape, (Shape{1, spec.frames, spec.rows, spec.columns}));
  EXPECT_NEAR(g.data[5], 0.299 * spec.pixels[15] + 0.587 * spec.pixels[16] + 0.114 * spec.pixels[17], 1e-3);
}

TEST(DicomSelection, SeriesByUidAndRules) {
  TempDir dir;
  auto ct = data::oblique_ct_spec(3, 8, 9);
  data::write_series(dir.path() / "study" / "a", ct);
  auto mr = data::oblique_ct_spec(4, 8, 9);
  mr.modality = "MR";
  data::write_series(dir.path() / "study" / "b", mr);
  const auto message = input_error_of([&] { imaging::read_image(dir.path() / "study"); });
  EXPECT_NE(message.find("2 series"), std::string::npos) << message;
  EXPECT_NE(message.find(ct.series_uid), std::string::npos) << message;

  imaging::ReadOptions by_uid;
  by_uid.dicom.series_uid = mr.series_uid;
  EXPECT_EQ(imaging::read_image(dir.path() / "study", by_uid).shape[1], 4);
  imaging::ReadOptions by_rule;
  by_rule.dicom.rules.push_back(dicom::parse_rule("Modality=^ct$"));
  EXPECT_EQ(imaging::read_image(dir.path() / "study", by_rule).shape[1], 3);
  by_rule.dicom.rules = {dicom::parse_rule("Modality=PET")};
  EXPECT_NE(input_error_of([&] { imaging::read_image(dir.path() / "study", by_rule); }).find("no series matches"),
            std::string::npos);
  EXPECT_THROW(dicom::parse_rule("NotAKeyword=1"), UsageError);
  EXPECT_THROW(dicom::parse_rule("Modality"), UsageError);
  EXPECT_EQ(dicom::parse_frames("1,17"), (std::vector<int>{1, 17}));
  EXPECT_TRUE(dicom::parse_frames("all").empty());
  EXPECT_THROW(dicom::parse_frames("0"), UsageError);
  EXPECT_THROW(dicom::parse_frames("ED"), UsageError);
}

TEST(DicomErrors, NameTheFileAndTheAttribute) {
  TempDir dir;
  auto spec = data::oblique_ct_spec(3, 8, 9);
  auto files = data::write_series(dir.path() / "tilted", spec);
  data::set_attribute(files[1], 0x0020, 0x0037, "1\\0\\0\\0\\2\\0");  // not a unit vector
  auto message = input_error_of([&] { imaging::read_image(dir.path() / "tilted"); });
  EXPECT_NE(message.find(files[1].filename().string()), std::string::npos) << message;
  EXPECT_NE(message.find("ImageOrientationPatient"), std::string::npos) << message;

  files = data::write_series(dir.path() / "nopos", spec);
  data::remove_attribute(files[2], 0x0020, 0x0032);
  message = input_error_of([&] { imaging::read_image(dir.path() / "nopos"); });
  EXPECT_NE(message.find("ImagePositionPatient"), std::string::npos) << message;
  EXPECT_NE(message.find(files[2].filename().string()), std::string::npos) << message;

  files = data::write_series(dir.path() / "same", spec);
  const auto p = data::slice_position(spec, 0);
  data::set_attribute(files[1], 0x0020, 0x0032, std::to_string(p[0]) + "\\" + std::to_string(p[1]) + "\\" + std::to_string(p[2]));
  message = input_error_of([&] { imaging::read_image(dir.path() / "same"); });
  EXPECT_NE(message.find("same slice position"), std::string::npos) << message;

  auto cine = data::echo_cine_spec(2, 8, 10);
  cine.with_region = false;
  data::write_cine(dir.path() / "nospacing.dcm", cine);
  message = input_error_of([&] { imaging::read_image(dir.path() / "nospacing.dcm"); });
  EXPECT_NE(message.find("PixelSpacing"), std::string::npos) << message;
  imaging::ReadOptions given;
  given.spacing = std::vector<double>{1, 0.3, 0.3};
  EXPECT_EQ(imaging::read_image(dir.path() / "nospacing.dcm", given).spacing, *given.spacing);

  data::write_cine(dir.path() / "palette.dcm", data::echo_cine_spec(1, 8, 10));
  data::set_attribute(dir.path() / "palette.dcm", 0x0028, 0x0004, "PALETTE COLOR");
  message = input_error_of([&] { imaging::read_image(dir.path() / "palette.dcm"); });
  EXPECT_NE(message.find("PhotometricInterpretation"), std::string::npos) << message;

  data::write_cine(dir.path() / "short.dcm", data::echo_cine_spec(2, 8, 10));
  data::set_attribute(dir.path() / "short.dcm", 0x0028, 0x0008, "3");  // claims a frame it does not hold
  message = input_error_of([&] { imaging::read_image(dir.path() / "short.dcm"); });
  EXPECT_NE(message.find("PixelData"), std::string::npos) << message;

  data::write_cine(dir.path() / "bomb.dcm", data::echo_cine_spec(2, 8, 10), data::Encoding::Rle);
  data::set_attribute(dir.path() / "bomb.dcm", 0x0028, 0x0008, "2000000");  // 2e6 frames of 8x10x... claimed
  data::set_attribute(dir.path() / "bomb.dcm", 0x0028, 0x0010, "65535");
  message = input_error_of([&] { imaging::read_image(dir.path() / "bomb.dcm"); });
  EXPECT_NE(message.find("8 GiB"), std::string::npos) << message;

  {
    std::ofstream fake(dir.path() / "fake.dcm");
    fake << "not dicom at all";
  }
  message = input_error_of([&] { imaging::read_image(dir.path() / "fake.dcm"); });
  EXPECT_NE(message.find("not a DICOM file"), std::string::npos) << message;

  imaging::ReadOptions other;
  other.dicom.series_uid = "1.2.3.4";
  data::write_cine(dir.path() / "good.dcm", data::echo_cine_spec(1, 8, 10));
  message = input_error_of([&] { imaging::read_image(dir.path() / "good.dcm", other); });
  EXPECT_NE(message.find("SeriesInstanceUID"), std::string::npos) << message;
}

TEST(DicomErrors, PixelDataLongerThanTheHeaderDescribes) {
  TempDir dir;
  const auto cine = data::echo_cine_spec(2, 8, 10);  // 2 frames of 8 x 10, 8-bit: 160 bytes
  data::write_cine(dir.path() / "long.dcm", cine);
  data::lengthen_pixel_data(dir.path() / "long.dcm", 80);  // half a frame more
  const auto message = input_error_of([&] { imaging::read_image(dir.path() / "long.dcm"); });
  EXPECT_NE(message.find("long.dcm"), std::string::npos) << message;
  EXPECT_NE(message.find("PixelData (7FE0,0010): 240 bytes for 2 frame(s) of 8x10 MONOCHROME2 that need 160"),
            std::string::npos)
      << message;
  // One pad byte to even length is what DICOM asks of an odd-length value: 1 frame of 3 x 5.
  data::write_cine(dir.path() / "odd.dcm", data::echo_cine_spec(1, 3, 5));
  EXPECT_EQ(imaging::read_image(dir.path() / "odd.dcm").shape, (Shape{1, 3, 5}));
  data::lengthen_pixel_data(dir.path() / "odd.dcm", 2);  // 18 bytes: 15 + pad + 2 more
  EXPECT_NE(input_error_of([&] { imaging::read_image(dir.path() / "odd.dcm"); }).find("need 15"), std::string::npos);
}

TEST(DicomErrors, TransferSyntaxMustBeKnownAndTrue) {
  TempDir dir;
  const auto cine = data::echo_cine_spec(1, 8, 10);
  data::write_cine(dir.path() / "unknown.dcm", cine);
  data::declare_transfer_syntax(dir.path() / "unknown.dcm", "1.2.3.4.5.6");
  auto message = input_error_of([&] { imaging::read_image(dir.path() / "unknown.dcm"); });
  EXPECT_NE(message.find("unknown.dcm: TransferSyntaxUID (0002,0010): unknown transfer syntax '1.2.3.4.5.6'"),
            std::string::npos)
      << message;
  // Deflate declared over a plain data set: DCMTK's inflate fails; the message names the syntax.
  data::write_cine(dir.path() / "deflate.dcm", cine);
  data::declare_transfer_syntax(dir.path() / "deflate.dcm", "1.2.840.10008.1.2.1.99");
  message = input_error_of([&] { imaging::read_image(dir.path() / "deflate.dcm"); });
  EXPECT_NE(message.find("deflate.dcm"), std::string::npos) << message;
  EXPECT_NE(message.find("1.2.840.10008.1.2.1.99 (Deflated Explicit VR Little Endian)"), std::string::npos) << message;
  // Implicit VR declared over an explicit VR data set.
  data::write_cine(dir.path() / "implicit.dcm", cine);
  data::declare_transfer_syntax(dir.path() / "implicit.dcm", "1.2.840.10008.1.2");
  message = input_error_of([&] { imaging::read_image(dir.path() / "implicit.dcm"); });
  EXPECT_NE(message.find("implicit.dcm: not a readable DICOM file"), std::string::npos) << message;
  EXPECT_NE(message.find("1.2.840.10008.1.2 (Little Endian Implicit)"), std::string::npos) << message;
}

TEST(DicomErrors, NonFiniteValuesPrintedAsWrittenAndNoDcmtkLogLines) {
  TempDir dir;
  auto spec = data::oblique_ct_spec(2, 6, 7);
  for (const std::string value : {"nan", "inf", "-inf"}) {
    const auto files = data::write_series(dir.path() / ("s" + value), spec);
    data::set_attribute(files[0], 0x0028, 0x1053, value);
    const auto message = input_error_of([&] { imaging::read_image(dir.path() / ("s" + value)); });
    EXPECT_NE(message.find("RescaleSlope (0028,1053): '" + value + "' is not finite"), std::string::npos) << message;
  }
  // DCMTK's own "E: ..." lines stay off stderr: the InputError is the only report.
  data::write_cine(dir.path() / "cut.dcm", data::echo_cine_spec(2, 16, 16), data::Encoding::Rle);
  const std::string whole = read_bytes(dir.path() / "cut.dcm");
  write_bytes(dir.path() / "cut.dcm", whole.substr(0, whole.size() - 40));
  ::testing::internal::CaptureStderr();
  const auto message = input_error_of([&] { imaging::read_image(dir.path() / "cut.dcm"); });
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(message.find("cut.dcm"), std::string::npos) << message;
  EXPECT_EQ(err, "");
}

}  // namespace
