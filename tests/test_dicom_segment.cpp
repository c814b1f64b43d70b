// `medport segment` on DICOM equals `medport segment` on the same pixels as NIfTI: a single
// ultrasound frame (spacing from the ultrasound regions) and a cine (slice by slice), and
// --dicom-seg writes a SEG that passes dciodvfy and reads back to the label map.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "dicom_test_data.hpp"
#include "medport/checkpoint/npy.hpp"
#include "seg_readback.hpp"
#include "medport/imaging/image_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::testing;
namespace data = medport::testing::dicom_data;

class SegmentDicom : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    onnx_ = dir_->path() / "phantom2d.onnx";
    auto r = run_medport({"convert", (source_dir() / "models" / "phantom2d").string(), "-o", onnx_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = run_medport({"phantom", "-o", (dir_->path() / "ph").string(), "--patients", "1", "--seed", "5"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }

  // Phantom frames (ED, ES of the 2CH view) as uint8 pixels, with the view's spacing.
  static data::CineSpec phantom_cine(int frames) {
    const auto patient = dir_->path() / "ph" / "phantom0001";
    const auto spacing = read_json(patient / "spacing.json")["2CH"];
    data::CineSpec spec = data::echo_cine_spec(frames, 1, 1);
    spec.pixels.clear();
    for (int f = 0; f < frames; ++f) {
      const auto image = imaging::read_image(patient / (f == 0 ? "phantom0001_2CH_ED.png" : "phantom0001_2CH_ES.png"));
      spec.rows = static_cast<int>(image.shape[1]);
      spec.columns = static_cast<int>(image.shape[2]);
      for (float v : image.data) spec.pixels.push_back(static_cast<std::uint8_t>(v));
    }
    spec.delta_y_cm = spacing[0].get<double>() / 10.0;
    spec.delta_x_cm = spacing[1].get<double>() / 10.0;
    return spec;
  }

  // The same pixels as a NIfTI with the same spacing (written through the label-map writer: uint8).
  static void write_nifti(const fs::path& path, const data::CineSpec& spec) {
    const bool one = spec.frames == 1;
    std::vector<std::int64_t> shape = one ? std::vector<std::int64_t>{spec.rows, spec.columns}
                                          : std::vector<std::int64_t>{spec.frames, spec.rows, spec.columns};
    std::vector<double> spacing = one ? std::vector<double>{spec.delta_y_cm * 10, spec.delta_x_cm * 10}
                                      : std::vector<double>{1.0, spec.delta_y_cm * 10, spec.delta_x_cm * 10};
    imaging::LabelImage pixels(shape, spacing);
    pixels.labels = spec.pixels;
    imaging::Image reference;
    reference.shape = {1};
    reference.shape.insert(reference.shape.end(), shape.begin(), shape.end());
    reference.spacing = spacing;
    reference.geometry.format = imaging::ImageFormat::Nifti;
    imaging::write_label_map(path, pixels, reference);
  }

  static imaging::Image segment(const fs::path& input, const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"segment", onnx_.string(), input.string(), "-o", (dir_->path() / ("out_" + name)).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_medport(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return imaging::read_image(dir_->path() / ("out_" + name) / (name + "_seg.nii.gz"));
  }

  static TempDir* dir_;
  static fs::path onnx_;
};
TempDir* SegmentDicom::dir_ = nullptr;
fs::path SegmentDicom::onnx_;

TEST_F(SegmentDicom, SingleUltrasoundFrameEqualsNifti) {
  const auto spec = phantom_cine(1);
  data::write_cine(dir_->path() / "a2c.dcm", spec);
  write_nifti(dir_->path() / "a2c_nifti.nii.gz", spec);
  const auto from_dicom = segment(dir_->path() / "a2c.dcm", "a2c");
  const auto from_nifti = segment(dir_->path() / "a2c_nifti.nii.gz", "a2c_nifti");
  ASSERT_EQ(from_dicom.shape, from_nifti.shape);
  EXPECT_EQ(from_dicom.data, from_nifti.data);
  for (std::size_t i = 0; i < from_dicom.spacing.size(); ++i) EXPECT_NEAR(from_dicom.spacing[i], from_nifti.spacing[i], 1e-6);
  EXPECT_GT(*std::max_element(from_dicom.data.begin(), from_dicom.data.end()), 2.0f);  // LV, MYO and LA found
}

TEST_F(SegmentDicom, CineFramesEqualNiftiVolumeAndSegValidates) {
  const auto spec = phantom_cine(2);
  data::write_cine(dir_->path() / "cine.dcm", spec, data::Encoding::Rle);
  write_nifti(dir_->path() / "cine_nifti.nii.gz", spec);
  const auto from_dicom = segment(dir_->path() / "cine.dcm", "cine", {"--frames", "1,2", "--dicom-seg"});
  const auto from_nifti = segment(dir_->path() / "cine_nifti.nii.gz", "cine_nifti");
  ASSERT_EQ(from_dicom.shape, from_nifti.shape);
  EXPECT_EQ(from_dicom.data, from_nifti.data);

  const auto seg = dir_->path() / "out_cine" / "cine_seg.dcm";
  ASSERT_TRUE(fs::exists(seg));
  if (fs::exists("/usr/bin/dciodvfy")) {
    const auto v = run_program({"dciodvfy", seg.string()});
    std::istringstream lines(v.out + v.err);
    for (std::string line; std::getline(lines, line);) EXPECT_NE(line.rfind("Error", 0), 0u) << v.out << v.err;
  }
  std::vector<std::uint8_t> labels(from_nifti.data.begin(), from_nifti.data.end());
  ckpt::write_npy_file(dir_->path() / "cine_labels.npy",
                       Tensor::from_bytes(DType::U8, {spec.frames, spec.rows, spec.columns}, std::as_bytes(std::span(labels))));
  const auto source = imaging::read_image(dir_->path() / "cine.dcm");
  MEDPORT_RUN_PYTHON_OR_SKIP(r, data::kSegReadBack, seg.string(), (dir_->path() / "cine_labels.npy").string(),
                             source.geometry.dicom->slices[0].sop_instance_uid, "1,2");
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("['LV', 'MYO', 'LA']"), std::string::npos) << r.out;
}

TEST_F(SegmentDicom, ShuffledObliqueSeriesEqualsNiftiAndKeepsItsGeometry) {
  const auto cine = phantom_cine(2);  // two phantom images as the two slices of a series
  auto spec = data::oblique_ct_spec(2, cine.rows, cine.columns);
  spec.slope = 1.0;
  spec.intercept = 0.0;
  spec.row_spacing = cine.delta_y_cm * 10;
  spec.column_spacing = cine.delta_x_cm * 10;
  spec.stored.assign(cine.pixels.begin(), cine.pixels.end());
  data::write_series(dir_->path() / "series", spec, data::Encoding::JpegLs);
  auto as_volume = cine;
  as_volume.frames = 2;
  write_nifti(dir_->path() / "series_nifti.nii.gz", as_volume);  // spacing (1, row, col): z is never resampled by a 2D model
  const auto from_dicom = segment(dir_->path() / "series", "series", {"--dicom-seg"});
  const auto from_nifti = segment(dir_->path() / "series_nifti.nii.gz", "series_nifti");
  ASSERT_EQ(from_dicom.shape, from_nifti.shape);
  EXPECT_EQ(from_dicom.data, from_nifti.data);
  // The NIfTI label map carries the series' geometry (LPS origin and direction, slice step).
  const auto source = imaging::read_image(dir_->path() / "series");
  ASSERT_EQ(from_dicom.geometry.origin.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(from_dicom.geometry.origin[i], source.geometry.origin[i], 1e-3);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(from_dicom.geometry.direction[i], source.geometry.direction[i], 1e-5);
  EXPECT_NEAR(from_dicom.spacing[0], spec.slice_spacing, 1e-5);

  const auto seg = dir_->path() / "out_series" / "series_seg.dcm";
  ASSERT_TRUE(fs::exists(seg));
  std::vector<std::uint8_t> labels(from_dicom.data.begin(), from_dicom.data.end());
  ckpt::write_npy_file(dir_->path() / "series_labels.npy",
                       Tensor::from_bytes(DType::U8, {2, spec.rows, spec.columns}, std::as_bytes(std::span(labels))));
  std::string uids;
  for (const auto& slice : source.geometry.dicom->slices) uids += (uids.empty() ? "" : ",") + slice.sop_instance_uid;
  MEDPORT_RUN_PYTHON_OR_SKIP(r, data::kSegReadBack, seg.string(), (dir_->path() / "series_labels.npy").string(), uids, "");
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.out;
}

TEST_F(SegmentDicom, DicomSegNeedsADicomInputAndBadDicomExitsThree) {
  auto r = run_medport({"segment", onnx_.string(), (dir_->path() / "ph" / "phantom0001" / "phantom0001_2CH_ED.png").string(),
                        "-o", (dir_->path() / "out_png").string(), "--spacing", "0.3,0.3", "--dicom-seg"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("--dicom-seg needs a DICOM input"), std::string::npos) << r.err;
  auto spec = phantom_cine(1);
  spec.with_region = false;  // no spacing anywhere
  data::write_cine(dir_->path() / "nospacing.dcm", spec);
  r = run_medport({"segment", onnx_.string(), (dir_->path() / "nospacing.dcm").string(), "-o",
                   (dir_->path() / "out_bad").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("PixelSpacing"), std::string::npos) << r.err;
  r = run_medport({"segment", onnx_.string(), (dir_->path() / "nospacing.dcm").string(), "-o",
                   (dir_->path() / "out_bad").string(), "--frames", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
