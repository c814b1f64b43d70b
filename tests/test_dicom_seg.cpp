// DICOM SEG output: dciodvfy reports no errors and highdicom reads the label map back.
#include <gtest/gtest.h>

#include <sstream>

#include "dicom_test_data.hpp"
#include "seg_readback.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/dicom/seg_writer.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/tensor.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::testing;
namespace data = medport::testing::dicom_data;

// dciodvfy's lines that report errors (it prints "Error - ..." for each violation).
std::vector<std::string> dciodvfy_errors(const fs::path& file, std::string* all = nullptr) {
  const auto r = run_program({"dciodvfy", file.string()});
  if (all) *all = r.out + r.err;
  std::vector<std::string> errors;
  std::istringstream lines(r.out + "\n" + r.err);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("Error", 0) == 0) errors.push_back(line);
  return errors;
}

bool have_dciodvfy() { return run_program({"dciodvfy", "-version"}).exit_code != -1 || fs::exists("/usr/bin/dciodvfy"); }

// A label map with all three labels in every slice and a different shape per slice.
std::vector<std::uint8_t> pattern(std::int64_t depth, std::int64_t rows, std::int64_t columns) {
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(depth * rows * columns));
  for (std::int64_t z = 0; z < depth; ++z)
    for (std::int64_t y = 0; y < rows; ++y)
      for (std::int64_t x = 0; x < columns; ++x)
        labels[static_cast<std::size_t>((z * rows + y) * columns + x)] =
            static_cast<std::uint8_t>(((x + z) / 4 + (y > rows / 2 ? 1 : 0)) % 4);
  return labels;
}


std::vector<dicom::SegmentInfo> camus_segments() { return {{1, "LV"}, {2, "MYO"}, {3, "LA"}}; }

TEST(DicomSeg, ObliqueSeriesValidatesAndReadsBack) {
  if (!have_dciodvfy()) GTEST_SKIP() << "dciodvfy (Debian dicom3tools) not installed";
  TempDir dir;
  const auto spec = data::oblique_ct_spec(5, 16, 18);
  data::write_series(dir.path() / "ct", spec);
  const auto image = imaging::read_image(dir.path() / "ct");
  const auto labels = pattern(spec.depth, spec.rows, spec.columns);
  const auto seg_file = dir.path() / "seg.dcm";
  dicom::write_segmentation(seg_file, *image.geometry.dicom, labels, camus_segments(), {});
  std::string report;
  const auto errors = dciodvfy_errors(seg_file, &report);
  EXPECT_NE(report.find("Segmentation"), std::string::npos) << "dciodvfy did not recognise the IOD: " << report;
  EXPECT_TRUE(errors.empty()) << report;

  ckpt::write_npy_file(dir.path() / "labels.npy",
                       Tensor::from_bytes(DType::U8, {spec.depth, spec.rows, spec.columns}, std::as_bytes(std::span(labels))));
  std::string uids;
  for (const auto& s : image.geometry.dicom->slices) uids += (uids.empty() ? "" : ",") + s.sop_instance_uid;
  MEDPORT_RUN_PYTHON_OR_SKIP(r, data::kSegReadBack, seg_file.string(), (dir.path() / "labels.npy").string(), uids, "");
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("87878005"), std::string::npos) << r.out;
}

TEST(DicomSeg, CineFramesValidateAndReadBack) {
  if (!have_dciodvfy()) GTEST_SKIP() << "dciodvfy (Debian dicom3tools) not installed";
  TempDir dir;
  const auto spec = data::echo_cine_spec(6, 24, 30);
  data::write_cine(dir.path() / "cine.dcm", spec);
  imaging::ReadOptions pick;
  pick.dicom.frames = {2, 5};
  const auto image = imaging::read_image(dir.path() / "cine.dcm", pick);
  const auto labels = pattern(2, spec.rows, spec.columns);
  const auto seg_file = dir.path() / "seg.dcm";
  dicom::write_segmentation(seg_file, *image.geometry.dicom, labels, camus_segments(), {});
  std::string report;
  const auto errors = dciodvfy_errors(seg_file, &report);
  EXPECT_NE(report.find("Segmentation"), std::string::npos) << "dciodvfy did not recognise the IOD: " << report;
  EXPECT_TRUE(errors.empty()) << report;
  ckpt::write_npy_file(dir.path() / "labels.npy",
                       Tensor::from_bytes(DType::U8, {2, spec.rows, spec.columns}, std::as_bytes(std::span(labels))));
  MEDPORT_RUN_PYTHON_OR_SKIP(r, data::kSegReadBack, seg_file.string(), (dir.path() / "labels.npy").string(),
                             image.geometry.dicom->slices[0].sop_instance_uid, "2,5");
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.out;
}

TEST(DicomSeg, RefusesLabelsWithoutSegmentsAndWrongGrids) {
  TempDir dir;
  const auto spec = data::echo_cine_spec(1, 8, 10);
  data::write_cine(dir.path() / "us.dcm", spec);
  const auto image = imaging::read_image(dir.path() / "us.dcm");
  std::vector<std::uint8_t> labels(80, 0);
  labels[3] = 7;
  EXPECT_THROW(dicom::write_segmentation(dir.path() / "a.dcm", *image.geometry.dicom, labels, camus_segments(), {}),
               InputError);
  labels.resize(10);
  EXPECT_THROW(dicom::write_segmentation(dir.path() / "b.dcm", *image.geometry.dicom, labels, camus_segments(), {}),
               InputError);
  EXPECT_FALSE(fs::exists(dir.path() / "a.dcm"));
}

}  // namespace
