// The robustness suite, image readers: corrupted, truncated, oversized and hostile NIfTI,
// MetaImage, PNG / JPEG / TIFF / BMP and npy files, generated here, given to `medport segment`
// (and to `medport evaluate` as label maps). Each must end with exit 3 naming the file and the
// fault, within seconds and a bounded amount of memory, leaving no file behind; the intact twin
// of each format is segmented. docs/ROBUSTNESS.md lists what is covered.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hostile_files.hpp"
#include "medport/checkpoint/npy.hpp"
#include "robustness_checks.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace medport::testing;

struct HostileImage {
  std::string name;   // file name, its ending picks the reader
  std::string bytes;
  std::string reason;  // a word the error must contain
};

NiftiSpec nifti(void (*change)(NiftiSpec&)) {
  NiftiSpec s;
  s.dims = {64, 64};
  s.pixdim = {0.3F, 0.3F};
  change(s);
  return s;
}

std::string npy_bytes(const medport::Tensor& t) {
  const auto bytes = medport::ckpt::write_npy(t);
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::vector<HostileImage> hostile_images() {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::string nii = nifti_bytes(nifti([](NiftiSpec&) {}));
  const std::string gz = gzip(nii);
  std::vector<HostileImage> v = {
      // NIfTI header fields
      {"sizeof_hdr.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.sizeof_hdr = 0; })), "sizeof_hdr"},
      {"magic.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.magic = "XYZ"; })), "magic"},
      {"bitpix.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.bitpix = 64; })), "bitpix"},
      {"datatype.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.datatype = 2304; s.bitpix = 32; })), "datatype"},
      {"dims.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.dims = {64, 0}; })), "dim[2]"},
      {"vox_offset_negative.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.vox_offset = -1e9F; })), "vox_offset"},
      {"vox_offset_nan.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.vox_offset = std::nanf(""); })), "vox_offset"},
      {"vox_offset_huge.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.vox_offset = 3e9F; })), "truncated"},
      {"pixdim_zero.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.pixdim = {0.0F, 0.3F}; })), "pixdim[1]"},
      {"pixdim_negative.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.pixdim = {0.3F, -0.3F}; })), "pixdim[2]"},
      {"pixdim_nan.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.pixdim = {0.3F, std::nanf("")}; })), "pixdim[2]"},
      {"slope_inf.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.scl_slope = std::numeric_limits<float>::infinity(); })), "scl_slope"},
      {"nan_pixels.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.values = {1.0, std::nan("")}; })), "NaN"},
      {"inf_pixels.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.values = {1.0, -INFINITY}; })), "-inf"},
      {"huge_dims.nii", nifti_bytes(nifti([](NiftiSpec& s) { s.dims = {32767, 32767, 32767}; s.header_only = true; })), "too large"},
      // NIfTI data and gzip stream
      {"truncated.nii", truncate_to(nii, 0.5), "truncated"},
      {"trailing.nii", nii + std::string(100, 'x'), "after the voxel data"},
      {"header_only.nii", nii.substr(0, 100), "348"},
      {"truncated.nii.gz", gz.substr(0, gz.size() / 2), "truncated"},
      {"no_checksum.nii.gz", gz.substr(0, gz.size() - 8), "checksum"},
      {"bitflip.nii.gz", flip_byte(gz, 0.5), "gzip"},
      {"not_gzip.nii.gz", nii, "gzip"},
      {"bomb.nii.gz",
       gzip(nifti_bytes(nifti([](NiftiSpec& s) { s.dims = {4096, 4096, 64}; s.datatype = 2; s.header_only = true; })) +
            std::string(1 << 16, '\0')),
       "decompression bomb"},
      // MetaImage
      {"up.mhd", metaimage_header({{"NDims", "2"}, {"DimSize", "64 64"}, {"ElementType", "MET_UCHAR"}, {"ElementDataFile", "../secret.raw"}}), ".."},
      {"absolute.mhd", metaimage_header({{"NDims", "2"}, {"DimSize", "64 64"}, {"ElementType", "MET_UCHAR"}, {"ElementDataFile", "/etc/passwd"}}), "absolute"},
      {"missing.mhd", metaimage_header({{"NDims", "2"}, {"DimSize", "64 64"}, {"ElementType", "MET_UCHAR"}, {"ElementDataFile", "gone.raw"}}), "gone.raw"},
      {"spacing.mha", metaimage_header({{"NDims", "2"}, {"DimSize", "2 2"}, {"ElementSpacing", "0 1"}, {"ElementType", "MET_UCHAR"}, {"ElementDataFile", "LOCAL"}}) + "abcd", "ElementSpacing"},
      {"short.mha", metaimage_header({{"NDims", "2"}, {"DimSize", "64 64"}, {"ElementType", "MET_FLOAT"}, {"ElementDataFile", "LOCAL"}}) + "abcd", "truncated"},
      {"dims.mha", metaimage_header({{"NDims", "2"}, {"DimSize", "1000000000 1000000000"}, {"ElementType", "MET_UCHAR"}, {"ElementDataFile", "LOCAL"}}), "too large"},
      {"zlib_bomb.mha", metaimage_header({{"NDims", "3"}, {"DimSize", "1024 1024 1024"}, {"ElementType", "MET_UCHAR"}, {"CompressedData", "True"}, {"ElementDataFile", "LOCAL"}}) + zlib_compress(std::string(4096, '\0')), "compressed"},
      {"corrupt_zlib.mha", metaimage_header({{"NDims", "2"}, {"DimSize", "64 64"}, {"ElementType", "MET_UCHAR"}, {"CompressedData", "True"}, {"ElementDataFile", "LOCAL"}}) + flip_byte(zlib_compress(std::string(4096, '\1')), 0.5), "corrupt"},
      {"nan.mha", metaimage_header({{"NDims", "2"}, {"DimSize", "1 1"}, {"ElementType", "MET_FLOAT"}, {"ElementDataFile", "LOCAL"}}) + std::string("\x00\x00\xc0\x7f", 4), "NaN"},
      // natural images
      {"truncated.png", truncate_to(png_bytes(64, 64), 0.6), "png"},
      {"bitflip.png", flip_byte(png_bytes(64, 64), 0.5), "decode"},
      {"huge.png", png_declaring(60000, 60000), "2^26"},
      {"bomb.png", png_declaring(8000, 8000), "decompression bomb"},
      {"truncated.jpg", truncate_to(jpeg_bytes(64, 64), 0.6), "JPEG"},
      {"truncated.tif", truncate_to(tiff_bytes(64, 64, 16), 0.4), "TIFF"},
      {"unknown_compression.tif", tiff_declaring(65286, 2051, 0), "compression 0"},
      {"lzw_bomb.tif", tiff_declaring(8000, 8000, 5), "decompression bomb"},
      {"text.png", "not an image at all", "decode"},
      {"empty.png", "", "empty"},
      {"text.bmp", "BM" + std::string(40, '\xff'), "decode"},
      // npy
      {"nan.npy", npy_bytes(medport::Tensor::from_f32({4, 4}, std::vector<float>(16, nan))), "NaN"},
      {"inf.npy", npy_bytes(medport::Tensor::from_f32({2, 2}, std::vector<float>{1, inf, 2, 3})), "+inf"},
      {"truncated.npy", truncate_to(npy_bytes(medport::Tensor::from_f32({64, 64}, std::vector<float>(4096, 1.0F))), 0.5), "npy"},
      {"object.npy", npy_raw("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "\x80\x02N."), "object"},
      {"five_axes.npy", npy_bytes(medport::Tensor::from_f32({1, 1, 1, 2, 2}, std::vector<float>(4, 1.0F))), "axes"},
  };
  return v;
}

class RobustnessImages : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
    fs::create_directories(in_);
    write_bytes(dir_ / "secret.raw", std::string(4096, '\x01'));  // what up.mhd reaches for
  }
  TempDir dir_;
  fs::path in_ = dir_ / "in";
};

TEST_F(RobustnessImages, SegmentRefusesEveryHostileImage) {
  const fs::path model = phantom_model_onnx();
  for (const auto& image : hostile_images()) {
    SCOPED_TRACE(image.name);
    const fs::path case_dir = in_ / image.name.substr(0, image.name.find('.'));
    fs::create_directories(case_dir);
    write_bytes(case_dir / image.name, image.bytes);
    const fs::path out = dir_ / ("out_" + image.name);
    const auto r = run_medport_guarded({"segment", model.string(), (case_dir / image.name).string(), "-o", out.string(),
                                        "--spacing", "0.3,0.3", "--threads", "1"},
                                       robustness_limits());
    expect_outcome(r, {3, image.name, image.reason}, "segment " + image.name);
    EXPECT_TRUE(everything_below(out).empty()) << image.name << ": left " << everything_below(out).size() << " file(s)";
    EXPECT_TRUE(temporaries_below(dir_.path()).empty());
  }
}

TEST_F(RobustnessImages, EvaluateRefusesEveryHostileLabelMap) {
  const std::string reference = png_bytes(64, 64);
  for (const auto& image : hostile_images()) {
    SCOPED_TRACE(image.name);
    const fs::path case_dir = in_ / ("eval_" + image.name.substr(0, image.name.find('.')));
    fs::create_directories(case_dir);
    write_bytes(case_dir / image.name, image.bytes);
    write_bytes(case_dir / "reference.png", reference);
    const fs::path out = dir_ / ("eval_out_" + image.name);
    const auto r = run_medport_guarded({"evaluate", (case_dir / image.name).string(), (case_dir / "reference.png").string(),
                                        "-o", out.string(), "--spacing", "0.3,0.3"},
                                       robustness_limits());
    expect_outcome(r, {3, image.name, ""}, "evaluate " + image.name);
    EXPECT_TRUE(everything_below(out).empty()) << image.name;
  }
}

// Arrays that skip the image readers (--preprocessed) are checked by the predictor itself.
TEST_F(RobustnessImages, PreprocessedArraysWithNaNAreRefused) {
  std::vector<float> values(64 * 64, 0.5F);
  values[100] = NAN;
  write_bytes(in_ / "pre_nan.npy", npy_bytes(medport::Tensor::from_f32({1, 64, 64}, values)));
  const auto r = run_medport_guarded({"segment", phantom_model_onnx().string(), (in_ / "pre_nan.npy").string(), "-o",
                                      (dir_ / "out_pre").string(), "--preprocessed"},
                                     robustness_limits());
  expect_outcome(r, {3, "pre_nan.npy", "NaN"}, "segment --preprocessed NaN");
  EXPECT_TRUE(everything_below(dir_ / "out_pre").empty());
}

// The formats users have: 8/16-bit PNG and TIFF, JPEG, int16 npy, NIfTI in both byte orders and
// gzipped, MetaImage with its data file, NaN replaced on request.
TEST_F(RobustnessImages, IntactImagesOfEveryFormatAreSegmented) {
  const fs::path model = phantom_model_onnx();
  NiftiSpec big_endian = nifti([](NiftiSpec&) {});
  big_endian.big_endian = true;
  std::vector<std::int16_t> ct(64 * 64);
  for (std::size_t i = 0; i < ct.size(); ++i) ct[i] = static_cast<std::int16_t>(static_cast<int>(i % 400) - 1000);
  const std::vector<std::pair<std::string, std::string>> files = {
      {"gray8.png", png_bytes(64, 64, 8)},
      {"gray16.png", png_bytes(64, 64, 16)},
      {"gray16.tif", tiff_bytes(64, 64, 16)},
      {"ct_int16.npy", npy_bytes(medport::Tensor::from_bytes(medport::DType::I16, {64, 64}, std::as_bytes(std::span(ct))))},
      {"scan.nii", nifti_bytes(nifti([](NiftiSpec&) {}))},
      {"scan_be.nii", nifti_bytes(big_endian)},
      {"scan.nii.gz", gzip(nifti_bytes(nifti([](NiftiSpec&) {})))},
      {"scan.mhd", metaimage_header({{"NDims", "2"}, {"DimSize", "64 64"}, {"ElementSpacing", "0.3 0.3"},
                                     {"ElementType", "MET_UCHAR"}, {"ElementDataFile", "scan.raw"}})},
  };
  write_bytes(in_ / "scan.raw", std::string(64 * 64, '\x40'));
  for (const auto& [name, bytes] : files) {
    SCOPED_TRACE(name);
    write_bytes(in_ / name, bytes);
    const fs::path out = dir_ / ("out_" + name);
    const auto r = run_medport_guarded({"segment", model.string(), (in_ / name).string(), "-o", out.string(), "--spacing",
                                        "0.3,0.3", "--threads", "1", "--no-overlay"},
                                       robustness_limits());
    expect_outcome(r, {0, "", ""}, "segment " + name);
    int summaries = 0;
    for (const auto& p : everything_below(out))
      if (p.ends_with(".json")) {
        ++summaries;
        EXPECT_NO_THROW((void)read_json(p)) << p;  // strict JSON: a NaN would not parse
      }
    EXPECT_EQ(summaries, 1) << name;
    EXPECT_TRUE(temporaries_below(out).empty());
  }
  // NaN pixels with --nan-to-num are segmented; without, refused (SegmentRefusesEveryHostileImage).
  write_bytes(in_ / "nan_ok.npy", npy_bytes(medport::Tensor::from_f32({64, 64}, std::vector<float>(4096, NAN))));
  const auto r = run_medport_guarded({"segment", model.string(), (in_ / "nan_ok.npy").string(), "-o",
                                      (dir_ / "out_nan").string(), "--spacing", "0.3,0.3", "--nan-to-num", "0"},
                                     robustness_limits());
  expect_outcome(r, {0, "", ""}, "segment --nan-to-num");
}

// The label map of a JPEG input is written as <case>_seg.png (JPEG is lossy; label_map_ending).
TEST_F(RobustnessImages, JpegInputIsSegmentedWithAPngLabelMap) {
  write_bytes(in_ / "photo.jpg", jpeg_bytes(64, 64));
  const auto r = run_medport_guarded({"segment", phantom_model_onnx().string(), (in_ / "photo.jpg").string(), "-o",
                                      (dir_ / "out_jpg").string(), "--spacing", "0.3,0.3"},
                                     robustness_limits());
  expect_outcome(r, {0, "", ""}, "segment photo.jpg");
  EXPECT_TRUE(fs::exists(dir_ / "out_jpg" / "photo_seg.png"));
}

}  // namespace
