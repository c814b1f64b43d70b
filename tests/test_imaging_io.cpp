// Image readers/writers on files made at test time: OpenCV-encoded PNG/TIFF with known pixels,
// NIfTI headers written byte by byte by Python's struct, hand-written MetaImage, npy.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "test_support.hpp"

namespace {

using medport::InputError;
using medport::Shape;
using namespace medport::imaging;
namespace fs = std::filesystem;

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class F>
void expect_input_error_naming(F&& f, const std::string& name) {
  try {
    f();
    ADD_FAILURE() << "expected an InputError naming " << name;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

TEST(NaturalImages, GrayPng8And16Bit) {
  medport::testing::TempDir dir;
  cv::Mat g8(2, 3, CV_8U);
  const std::uint8_t px8[] = {0, 10, 255, 7, 128, 3};
  std::memcpy(g8.data, px8, 6);
  ASSERT_TRUE(cv::imwrite((dir / "g8.png").string(), g8));
  const Image a = read_image(dir / "g8.png");
  EXPECT_EQ(a.shape, (Shape{1, 2, 3}));
  EXPECT_EQ(a.data, (std::vector<float>{0, 10, 255, 7, 128, 3}));
  EXPECT_EQ(a.original_dtype, "uint8");
  EXPECT_EQ(a.spacing, (std::vector<double>{1, 1}));
  EXPECT_EQ(a.geometry.format, ImageFormat::Natural);

  cv::Mat g16(2, 2, CV_16U);
  const std::uint16_t px16[] = {0, 1000, 65535, 42};
  std::memcpy(g16.data, px16, sizeof px16);
  ASSERT_TRUE(cv::imwrite((dir / "g16.png").string(), g16));
  ReadOptions with_spacing;
  with_spacing.spacing = std::vector<double>{0.3, 0.2};
  const Image b = read_image(dir / "g16.png", with_spacing);
  EXPECT_EQ(b.data, (std::vector<float>{0, 1000, 65535, 42}));
  EXPECT_EQ(b.original_dtype, "uint16");
  EXPECT_EQ(b.spacing, (std::vector<double>{0.3, 0.2}));

  const Image layout = to_nnunet_layout(b);
  EXPECT_EQ(layout.shape, (Shape{1, 1, 2, 2}));
  EXPECT_EQ(layout.spacing, (std::vector<double>{999 * 0.3, 0.3, 0.2}));
}

TEST(NaturalImages, ColourKeptAsRgbChannelsOrGray) {
  medport::testing::TempDir dir;
  cv::Mat bgr(1, 2, CV_8UC3);
  bgr.at<cv::Vec3b>(0, 0) = {10, 20, 30};  // B, G, R
  bgr.at<cv::Vec3b>(0, 1) = {200, 100, 50};
  ASSERT_TRUE(cv::imwrite((dir / "c.png").string(), bgr));
  const Image rgb = read_image(dir / "c.png");
  EXPECT_EQ(rgb.shape, (Shape{3, 1, 2}));
  EXPECT_EQ(rgb.data, (std::vector<float>{30, 50, 20, 100, 10, 200}));
  ReadOptions gray_options;
  gray_options.to_gray = true;
  const Image gray = read_image(dir / "c.png", gray_options);
  EXPECT_EQ(gray.shape, (Shape{1, 1, 2}));
  // OpenCV: round(0.299 R + 0.587 G + 0.114 B)
  EXPECT_EQ(gray.data, (std::vector<float>{22, 96}));
}

TEST(NaturalImages, TiffSingleAndMultiPage) {
  medport::testing::TempDir dir;
  cv::Mat p0(2, 2, CV_16U, cv::Scalar(7)), p1(2, 2, CV_16U, cv::Scalar(9));
  p1.at<std::uint16_t>(1, 0) = 300;
  ASSERT_TRUE(cv::imwrite((dir / "one.tif").string(), p1));
  EXPECT_EQ(read_image(dir / "one.tif").data, (std::vector<float>{9, 9, 300, 9}));
  ASSERT_TRUE(cv::imwritemulti((dir / "stack.tiff").string(), std::vector<cv::Mat>{p0, p1}));
  const Image v = read_image(dir / "stack.tiff");
  EXPECT_EQ(v.shape, (Shape{1, 2, 2, 2}));
  EXPECT_EQ(v.data, (std::vector<float>{7, 7, 7, 7, 9, 9, 300, 9}));
  // Tiff3DIO's spacing file beside the TIFF.
  write_bytes(dir / "stack.json", R"({"spacing": [3.0, 0.5, 0.25]})");
  EXPECT_EQ(read_image(dir / "stack.tiff").spacing, (std::vector<double>{3.0, 0.5, 0.25}));
  write_bytes(dir / "stack.json", R"({"spacing": [3.0, 0.5]})");
  expect_input_error_naming([&] { read_image(dir / "stack.tiff"); }, "stack.json");
}

TEST(NaturalImages, BadFilesAndLabelRoundTrip) {
  medport::testing::TempDir dir;
  write_bytes(dir / "broken.png", std::string("\x89PNG\r\n\x1a\nnot really", 18));
  expect_input_error_naming([&] { read_image(dir / "broken.png"); }, "broken.png");
  expect_input_error_naming([&] { read_image(dir / "missing.png"); }, "missing.png");
  expect_input_error_naming([&] { read_image(dir / "thing.gif"); }, "thing.gif");

  Image ref;
  ref.shape = {1, 2, 3};
  ref.data.assign(6, 0.0F);
  ref.spacing = {1, 1};
  LabelImage labels({2, 3});
  labels.labels = {0, 1, 2, 3, 1, 0};
  write_label_map(dir / "out" / "seg.png", labels, ref);
  const cv::Mat back = cv::imread((dir / "out" / "seg.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(back.type(), CV_8U);
  EXPECT_EQ(std::vector<std::uint8_t>(back.data, back.data + 6), labels.labels);
  // nnU-Net's (1, H, W) layout is accepted for a 2D reference.
  LabelImage layout({1, 2, 3});
  layout.labels = labels.labels;
  EXPECT_NO_THROW(write_label_map(dir / "seg2.png", layout, ref));
  EXPECT_THROW(write_label_map(dir / "seg.jpg", labels, ref), medport::UsageError);
}

// A NIfTI-1 file written field by field with Python's struct module.
constexpr const char* kNiftiWriter = R"PY(
import struct, sys, gzip
path, dims, datatype, bitpix, fmt, values, pixdim, slope, inter, truncate = sys.argv[1:11]
units = int(sys.argv[11]) if len(sys.argv) > 11 else 2
dims = [int(d) for d in dims.split(',')]
pix = [float(p) for p in pixdim.split(',')]
vals = [float(v) for v in values.split(',')]
dim = [len(dims)] + dims + [1] * (7 - len(dims))
pixd = [1.0] + pix + [1.0] * (7 - len(pix))
srow_x = [-pix[0], 0.0, 0.0, 12.5]
srow_y = [0.0, -pix[1], 0.0, -3.0]
srow_z = [0.0, 0.0, pix[2] if len(pix) > 2 else 1.0, 40.0]
hdr = struct.pack('<i10s18sihcc8h3f4h8f3fhcc4f2i80s24s2h6f4f4f4f16s4s',
    348, b'', b'', 0, 0, b'\0', b'\0', *dim, 0.0, 0.0, 0.0, 0, int(datatype), int(bitpix), 0,
    *pixd, 352.0, float(slope), float(inter), 0, b'\0', bytes([units]), 0.0, 0.0, 0.0, 0.0, 0, 0,
    b'medport test', b'', 0, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, *srow_x, *srow_y, *srow_z, b'', b'n+1\0')
body = hdr + b'\0\0\0\0' + struct.pack('<%d%s' % (len(vals), fmt), *[int(v) if fmt in 'bBhHiI' else v for v in vals])
if int(truncate):
    body = body[:-int(truncate)]
open(path, 'wb').write(body)
)PY";

void write_nifti(const fs::path& path, const std::string& dims, int datatype, int bitpix, const std::string& fmt,
                 const std::string& values, const std::string& pixdim, double slope = 0, double inter = 0,
                 int truncate = 0, int xyzt_units = 2) {
  const auto r = medport::testing::run_program({MEDPORT_PYTHON, "-c", kNiftiWriter, path.string(), dims,
                                               std::to_string(datatype), std::to_string(bitpix), fmt, values, pixdim,
                                               std::to_string(slope), std::to_string(inter), std::to_string(truncate),
                                               std::to_string(xyzt_units)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

TEST(Nifti, StructWrittenHeaderValuesSpacingAndScaling) {
  medport::testing::TempDir dir;
  // x=3, y=2, z=2 int16 with scl_slope 2, scl_inter 1: value = 2 * raw + 1.
  write_nifti(dir / "v.nii", "3,2,2", 4, 16, "h", "0,1,2,3,4,5,6,7,8,9,10,-11", "0.5,0.75,2.5", 2.0, 1.0);
  const Image v = read_image(dir / "v.nii");
  EXPECT_EQ(v.shape, (Shape{1, 2, 2, 3}));
  EXPECT_EQ(v.spacing, (std::vector<double>{2.5, 0.75, 0.5}));  // pixdim is float32, as in SimpleITK
  EXPECT_EQ(v.original_dtype, "int16");
  ASSERT_EQ(v.data.size(), 12U);
  EXPECT_EQ(v.data[0], 1.0F);
  EXPECT_EQ(v.data[4], 9.0F);  // x=1, y=1, z=0
  EXPECT_EQ(v.data[11], -21.0F);
  ASSERT_EQ(v.geometry.origin.size(), 3U);
  EXPECT_DOUBLE_EQ(v.geometry.origin[0], -12.5);  // LPS, as SimpleITK reports
  EXPECT_DOUBLE_EQ(v.geometry.origin[2], 40.0);

  // 4D: the 4th axis is channels.
  write_nifti(dir / "c.nii", "2,1,1,2", 16, 32, "f", "1.5,2.5,-3,4", "1,1,1");
  const Image c = read_image(dir / "c.nii");
  EXPECT_EQ(c.shape, (Shape{2, 1, 1, 2}));
  EXPECT_EQ(c.data, (std::vector<float>{1.5F, 2.5F, -3.0F, 4.0F}));

  // 2D
  write_nifti(dir / "p.nii", "2,3", 2, 8, "B", "1,2,3,4,5,6", "0.7,0.9");
  const Image p = read_image(dir / "p.nii");
  EXPECT_EQ(p.shape, (Shape{1, 3, 2}));
  const double sy = static_cast<double>(0.9F), sx = static_cast<double>(0.7F);
  EXPECT_EQ(p.spacing, (std::vector<double>{sy, sx}));
  EXPECT_EQ(to_nnunet_layout(p).spacing, (std::vector<double>{999 * sy, sy, sx}));
}

TEST(Nifti, SpatialUnitsConvertedToMillimetresLikeItk) {
  medport::testing::TempDir dir;
  // ITK's NiftiImageIO (SimpleITK 2.5 reads pixdim 0.3 in metres as 300.00001192092896): spacing
  // and origin times 1000 for metres (xyzt_units & 7 == 1), 0.001 for microns (3), mm (2) and
  // unknown (0) as they are. The time bits (0x18) do not change the spatial unit.
  const double p = static_cast<double>(0.3F);
  const struct {
    int units;
    double mm;
  } cases[] = {{1, 1e3}, {3, 1e-3}, {2, 1.0}, {0, 1.0}, {1 | 8, 1e3}};
  for (const auto& c : cases) {
    const auto name = "u" + std::to_string(c.units) + ".nii";
    write_nifti(dir / name, "2,2,2", 2, 8, "B", "1,2,3,4,5,6,7,8", "0.3,0.3,0.3", 0, 0, 0, c.units);
    const Image v = read_image(dir / name);
    EXPECT_EQ(v.spacing, (std::vector<double>{p * c.mm, p * c.mm, p * c.mm})) << name;
    ASSERT_EQ(v.geometry.origin.size(), 3U);
    EXPECT_DOUBLE_EQ(v.geometry.origin[0], -12.5 * c.mm) << name;
    EXPECT_DOUBLE_EQ(v.geometry.origin[1], 3.0 * c.mm) << name;
    EXPECT_DOUBLE_EQ(v.geometry.origin[2], 40.0 * c.mm) << name;
  }
  // A label map written with a metre-unit source header keeps the unit and reads back the same.
  const Image img = read_image(dir / "u1.nii");
  LabelImage labels({2, 2, 2});
  labels.labels = {0, 1, 0, 1, 1, 0, 1, 0};
  write_label_map(dir / "seg.nii.gz", labels, img);
  const Image back = read_image(dir / "seg.nii.gz");
  EXPECT_EQ(back.spacing, img.spacing);
  EXPECT_EQ(back.geometry.origin, img.geometry.origin);
}

TEST(Nifti, BadFilesNameTheFile) {
  medport::testing::TempDir dir;
  write_nifti(dir / "trunc.nii", "2,2,2", 16, 32, "f", "1,2,3,4,5,6,7,8", "1,1,1", 0, 0, 5);
  expect_input_error_naming([&] { read_image(dir / "trunc.nii"); }, "trunc.nii");
  write_bytes(dir / "junk.nii", std::string(400, 'x'));
  expect_input_error_naming([&] { read_image(dir / "junk.nii"); }, "junk.nii");
  write_nifti(dir / "rgb.nii", "1,1,1", 128, 24, "B", "1,2,3", "1,1,1");
  expect_input_error_naming([&] { read_image(dir / "rgb.nii"); }, "rgb.nii");
}

TEST(Nifti, LabelMapKeepsTheAffine) {
  medport::testing::TempDir dir;
  write_nifti(dir / "img.nii", "3,2,2", 16, 32, "f", "0,1,2,3,4,5,6,7,8,9,10,11", "0.5,0.75,2.5");
  const Image img = read_image(dir / "img.nii");
  LabelImage labels({2, 2, 3});
  labels.labels = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
  write_label_map(dir / "seg.nii.gz", labels, img);
  const Image back = read_image(dir / "seg.nii.gz");
  EXPECT_EQ(back.shape, (Shape{1, 2, 2, 3}));
  EXPECT_EQ(back.original_dtype, "uint8");
  EXPECT_EQ(back.spacing, img.spacing);
  EXPECT_EQ(back.geometry.origin, img.geometry.origin);
  EXPECT_EQ(back.geometry.direction, img.geometry.direction);
  for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(back.data[i], labels.labels[i]);
  EXPECT_FALSE(fs::exists(dir / "seg.nii"));
  // A gzip stream cut short is refused, naming the file.
  std::ifstream in(dir / "seg.nii.gz", std::ios::binary);
  const std::string gz{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  write_bytes(dir / "cut.nii.gz", gz.substr(0, gz.size() - 20));
  expect_input_error_naming([&] { read_image(dir / "cut.nii.gz"); }, "cut.nii.gz");
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".medport-tmp"), std::string::npos);
}

std::string le16(std::initializer_list<int> v, bool msb = false) {
  std::string s;
  for (int x : v) {
    const auto u = static_cast<std::uint16_t>(x);
    const char lo = static_cast<char>(u & 0xFF), hi = static_cast<char>(u >> 8);
    s += msb ? std::string{hi, lo} : std::string{lo, hi};
  }
  return s;
}

TEST(MetaImage, MhdRawBigEndianAndMhaCompressed) {
  medport::testing::TempDir dir;
  write_bytes(dir / "a.mhd",
              "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = True\n"
              "CompressedData = False\nTransformMatrix = 1 0 0 0 1 0 0 0 1\nOffset = -1 2 3.5\n"
              "ElementSpacing = 0.3 0.4 1.5\nDimSize = 2 1 2\nElementType = MET_SHORT\nElementDataFile = a.raw\n");
  write_bytes(dir / "a.raw", le16({1, -2, 300, 4}, true));
  const Image a = read_image(dir / "a.mhd");
  EXPECT_EQ(a.shape, (Shape{1, 2, 1, 2}));
  EXPECT_EQ(a.data, (std::vector<float>{1, -2, 300, 4}));
  EXPECT_EQ(a.spacing, (std::vector<double>{1.5, 0.4, 0.3}));
  EXPECT_EQ(a.geometry.origin, (std::vector<double>{-1, 2, 3.5}));
  EXPECT_EQ(a.original_dtype, "int16");

  const std::string raw = le16({10, 20, 30, 40, 50, 60});
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(size, '\0');
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(packed.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
                     static_cast<uLong>(raw.size())),
            Z_OK);
  packed.resize(size);
  write_bytes(dir / "b.mha", "ObjectType = Image\nNDims = 2\nCompressedData = True\nCompressedDataSize = " +
                                 std::to_string(size) +
                                 "\nElementSpacing = 0.154 0.308\nDimSize = 3 2\nElementType = MET_USHORT\n"
                                 "ElementDataFile = LOCAL\n" + packed);
  const Image b = read_image(dir / "b.mha");
  EXPECT_EQ(b.shape, (Shape{1, 2, 3}));
  EXPECT_EQ(b.data, (std::vector<float>{10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(b.spacing, (std::vector<double>{0.308, 0.154}));

  // Label maps keep the header fields (spacing, offset, matrix) in both layouts.
  LabelImage seg({2, 3});
  seg.labels = {0, 1, 2, 3, 2, 1};
  write_label_map(dir / "seg.mha", seg, b);
  const Image sb = read_image(dir / "seg.mha");
  EXPECT_EQ(sb.data, (std::vector<float>{0, 1, 2, 3, 2, 1}));
  EXPECT_EQ(sb.spacing, b.spacing);
  EXPECT_EQ(sb.original_dtype, "uint8");
  LabelImage seg3({2, 1, 2});
  seg3.labels = {1, 0, 0, 2};
  write_label_map(dir / "out" / "seg.mhd", seg3, a);
  EXPECT_TRUE(fs::exists(dir / "out" / "seg.raw"));
  const Image sa = read_image(dir / "out" / "seg.mhd");
  EXPECT_EQ(sa.data, (std::vector<float>{1, 0, 0, 2}));
  EXPECT_EQ(sa.geometry.origin, a.geometry.origin);
  EXPECT_EQ(sa.geometry.direction, a.geometry.direction);
  EXPECT_EQ(sa.spacing, a.spacing);
}

TEST(MetaImage, BadFilesNameTheFile) {
  medport::testing::TempDir dir;
  const std::string head = "ObjectType = Image\nNDims = 2\nDimSize = 2 2\n";
  write_bytes(dir / "type.mha", head + "ElementType = MET_COMPLEX\nElementDataFile = LOCAL\n" + std::string(8, '\0'));
  expect_input_error_naming([&] { read_image(dir / "type.mha"); }, "type.mha");
  write_bytes(dir / "short.mha", head + "ElementType = MET_FLOAT\nElementDataFile = LOCAL\n" + std::string(15, '\0'));
  expect_input_error_naming([&] { read_image(dir / "short.mha"); }, "short.mha");
  write_bytes(dir / "dims.mha", "NDims = 3\nDimSize = 2 2\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n" + std::string(4, '\0'));
  expect_input_error_naming([&] { read_image(dir / "dims.mha"); }, "dims.mha");
  write_bytes(dir / "nodata.mhd", head + "ElementType = MET_UCHAR\nElementDataFile = nodata.raw\n");
  expect_input_error_naming([&] { read_image(dir / "nodata.mhd"); }, "nodata.raw");
  write_bytes(dir / "zip.mha", head + "ElementType = MET_UCHAR\nCompressedData = True\nElementDataFile = LOCAL\nnot zlib");
  expect_input_error_naming([&] { read_image(dir / "zip.mha"); }, "zip.mha");
  write_bytes(dir / "huge.mha", "NDims = 3\nDimSize = 100000 100000 100000\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n");
  expect_input_error_naming([&] { read_image(dir / "huge.mha"); }, "huge.mha");
  write_bytes(dir / "bomb.mha", "NDims = 3\nDimSize = 1000 1000 100\nElementType = MET_UCHAR\nCompressedData = True\n"
                                "ElementDataFile = LOCAL\n" + std::string(64, 'z'));
  expect_input_error_naming([&] { read_image(dir / "bomb.mha"); }, "bomb.mha");
}

TEST(NpyAndCases, LabelMapsInOtherFormatsThanTheInput) {
  medport::testing::TempDir dir;
  Image ref;
  ref.shape = {1, 2, 2, 3};
  ref.data.assign(12, 0.0F);
  ref.spacing = {2.0, 0.5, 0.25};
  LabelImage labels({2, 2, 3});
  labels.labels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  for (const char* name : {"s.nii.gz", "s.nii", "s.mha", "s.mhd", "s.npy"}) {
    write_label_map(dir / name, labels, ref);
    const Image back = read_image(dir / name);
    EXPECT_EQ(back.shape, ref.shape) << name;
    EXPECT_EQ(back.data, (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})) << name;
    if (std::string(name) != "s.npy") {
      EXPECT_EQ(back.spacing, ref.spacing) << name;
    }
  }
  EXPECT_THROW(write_label_map(dir / "s.png", labels, ref), medport::UsageError);
  LabelImage wrong({2, 3, 2});
  EXPECT_THROW(write_label_map(dir / "w.nii", wrong, ref), medport::UsageError);
}

TEST(NpyAndCases, NpyImagesAndCaseGrouping) {
  medport::testing::TempDir dir;
  const std::vector<float> v{1, 2, 3, 4, 5, 6};
  medport::ckpt::write_npy_file(dir / "x.npy", medport::Tensor::from_f32({1, 2, 3}, v));
  EXPECT_EQ(read_image(dir / "x.npy").shape, (Shape{1, 1, 2, 3}));
  ReadOptions channels_first;
  channels_first.npy_channels_first = true;
  EXPECT_EQ(read_image(dir / "x.npy", channels_first).shape, (Shape{1, 2, 3}));

  const fs::path cases = dir / "cases";
  fs::create_directories(cases);
  for (const char* name : {"b_0001.npy", "b_0000.npy", "a_0000.npy", "a_0001.npy", "notes.txt", "a_0000.png"})
    medport::ckpt::write_npy_file(cases / name, medport::Tensor::from_f32({2, 3}, v));
  const auto grouped = group_cases(cases, ".npy");
  ASSERT_EQ(grouped.size(), 2U);
  EXPECT_EQ(grouped[0].identifier, "a");
  EXPECT_EQ(grouped[1].channel_files.at(1).filename(), "b_0001.npy");
  const Image stacked = read_channels(grouped[0].channel_files);
  EXPECT_EQ(stacked.shape, (Shape{2, 2, 3}));

  medport::ckpt::write_npy_file(cases / "c_0001.npy", medport::Tensor::from_f32({2, 3}, v));
  expect_input_error_naming([&] { group_cases(cases, ".npy"); }, "c_0000.npy");
  fs::remove(cases / "c_0001.npy");
  medport::ckpt::write_npy_file(cases / "a_0001.npy", medport::Tensor::from_f32({3, 2}, v));
  expect_input_error_naming([&] { read_channels(group_cases(cases, ".npy")[0].channel_files); }, "a_0001.npy");
}

}  // namespace
