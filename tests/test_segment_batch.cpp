// Batch mode of `medport segment` with I/O overlapped with inference (batch_runner.hpp): the same
// files as running the cases one after another, reports in input order, a bad case in the middle
// reported and skipped, resumable, and no deadlock with one case in flight.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/segment/batch_runner.hpp"
#include "medport/util/file_io.hpp"
#include "converted_camus_test.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

class SegmentBatch : public medport::testing::ConvertedCamusTest {
 protected:
  // in/: c1..c5 preprocessed (different crops of the fixture image), c3 broken (2 channels).
  fs::path preprocessed_inputs() {
    const auto image = ckpt::read_npz_member(npz_, "image").to_f32();  // (1, 200, 150)
    const fs::path in = dir_ / "in";
    for (int i = 1; i <= 5; ++i) {
      const std::string name = "c" + std::to_string(i) + ".npy";
      if (i == 3) {
        ckpt::write_npy_file(in / name, Tensor::zeros(DType::F32, {2, 64, 64}));
        continue;
      }
      const std::int64_t h = 90 + 20 * i, w = 150;
      std::vector<float> crop(image.begin(), image.begin() + h * w);
      ckpt::write_npy_file(in / name, Tensor::from_f32({1, h, w}, crop));
    }
    return in;
  }

};

std::string without_timings(const fs::path& summary) {
  auto j = medport::testing::read_json(summary);
  j.erase("timings_ms");
  return j.dump();
}

// Every output file of `a` exists in `b` with the same bytes (summaries: same apart from timings).
void expect_same_outputs(const fs::path& a, const fs::path& b) {
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(a)) {
    const auto name = entry.path().filename().string();
    ASSERT_TRUE(fs::exists(b / name)) << name;
    if (entry.path().extension() == ".json")
      EXPECT_EQ(without_timings(entry.path()), without_timings(b / name)) << name;
    else
      EXPECT_EQ(read_file(entry.path()), read_file(b / name)) << name;
    ++files;
  }
  std::size_t files_b = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(b)) ++files_b;
  EXPECT_EQ(files, files_b);
  EXPECT_GT(files, 0u);
}

TEST_F(SegmentBatch, OverlappedRunWritesWhatTheSequentialRunWrites) {
  const auto in = preprocessed_inputs();
  const auto seq = dir_ / "seq", ovl = dir_ / "ovl";
  auto r1 = run_medport({"segment", onnx_.string(), in.string(), "-o", seq.string(), "--preprocessed", "--no-tta",
                         "--save-logits", "--save-probabilities", "--no-overlap"});
  auto r2 = run_medport({"segment", onnx_.string(), in.string(), "-o", ovl.string(), "--preprocessed", "--no-tta",
                         "--save-logits", "--save-probabilities"});
  for (const auto* r : {&r1, &r2}) {
    EXPECT_EQ(r->exit_code, 3) << r->err;  // c3 failed
    EXPECT_NE(r->err.find("segmented 4 case(s), skipped 0 already done, 1 failed"), std::string::npos) << r->err;
    EXPECT_NE(r->err.find("c3.npy"), std::string::npos) << r->err;
    // Progress lines in input order, the failure in its place.
    std::size_t last = 0;
    for (const char* c : {"c1", "c2", "c3", "c4", "c5"}) {
      const auto at = r->err.find("] " + std::string(c) + ": ");  // "[i/5] cN: note" (not a terminal)
      ASSERT_NE(at, std::string::npos) << c << "\n" << r->err;
      EXPECT_GE(at, last) << c << "\n" << r->err;
      last = at;
    }
  }
  EXPECT_FALSE(fs::exists(ovl / "c3.json"));
  EXPECT_TRUE(fs::exists(ovl / "c5_seg.npy"));
  EXPECT_EQ(ckpt::read_npy_file(ovl / "c4_seg.npy").shape(), (Shape{170, 150}));
  expect_same_outputs(seq, ovl);

  // Resume: finished cases are skipped, the bad one fails again.
  const auto r3 = run_medport({"segment", onnx_.string(), in.string(), "-o", ovl.string(), "--preprocessed", "--no-tta"});
  EXPECT_EQ(r3.exit_code, 3);
  EXPECT_NE(r3.err.find("segmented 0 case(s), skipped 4 already done, 1 failed"), std::string::npos) << r3.err;
}

TEST_F(SegmentBatch, RawImagesOverlapWithABadFileInTheMiddle) {
  const fs::path in = dir_ / "raw";
  fs::create_directories(in);
  for (int i = 0; i < 4; ++i) {
    const std::string name = "echo" + std::to_string(i) + ".png";
    if (i == 2) {
      write_file_atomic(in / name, std::string_view("not a png"));
      continue;
    }
    cv::Mat img(50 + 5 * i, 40, CV_8UC1);
    for (int r = 0; r < img.rows; ++r)
      for (int c = 0; c < img.cols; ++c) img.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>((r * (7 + i) + c * 3) % 256);
    ASSERT_TRUE(cv::imwrite((in / name).string(), img));
  }
  std::vector<std::string> files;
  for (int i = 0; i < 4; ++i) files.push_back((in / ("echo" + std::to_string(i) + ".png")).string());
  auto args = [&](const fs::path& out, bool overlap) {
    std::vector<std::string> a{"segment", onnx_.string()};
    a.insert(a.end(), files.begin(), files.end());
    a.insert(a.end(), {"-o", out.string(), "--no-tta", "--save-probabilities"});
    if (!overlap) a.push_back("--no-overlap");
    return a;
  };
  const auto r1 = run_medport(args(dir_ / "seq", false));
  const auto r2 = run_medport(args(dir_ / "ovl", true));
  EXPECT_EQ(r1.exit_code, 3) << r1.err;
  EXPECT_EQ(r2.exit_code, 3) << r2.err;
  EXPECT_NE(r2.err.find("echo2.png"), std::string::npos) << r2.err;
  EXPECT_NE(r2.err.find("segmented 3 case(s)"), std::string::npos) << r2.err;
  expect_same_outputs(dir_ / "seq", dir_ / "ovl");
}

TEST_F(SegmentBatch, ReportsComeInInputOrderWithAnyNumberOfCasesInFlight) {
  const auto in = preprocessed_inputs();
  std::vector<segment::LoadedModel> models{
      segment::load_model(onnx_, runtime::session_options_from_flags(1, "cpu"))};
  std::vector<fs::path> inputs{in};
  const auto cases = segment::collect_cases(inputs, true);
  ASSERT_EQ(cases.size(), 5u);
  for (std::size_t in_flight : {1u, 2u, 8u}) {
    segment::CaseOptions options;
    options.output_dir = dir_ / ("lib" + std::to_string(in_flight));
    options.preprocessed = true;
    options.predictor.mirror = false;
    options.overlay = false;
    fs::create_directories(options.output_dir);
    segment::BatchOptions batch;
    batch.max_cases_in_flight = in_flight;
    std::vector<std::string> order;
    std::vector<segment::CaseReport::Status> status;
    const auto totals = segment::run_batch(models, cases, options, batch, [&](const segment::CaseReport& r) {
      order.push_back(r.case_name);
      status.push_back(r.status);
    });
    EXPECT_EQ(order, (std::vector<std::string>{"c1", "c2", "c3", "c4", "c5"})) << in_flight;
    using S = segment::CaseReport::Status;
    EXPECT_EQ(status, (std::vector<S>{S::Done, S::Done, S::Failed, S::Done, S::Done})) << in_flight;
    EXPECT_EQ(totals.done, 4u);
    EXPECT_EQ(totals.failed, 1u);
    if (in_flight > 1) expect_same_outputs(dir_ / "lib1", options.output_dir);
  }

  // An error that is not a case's InputError (here from the report callback) stops the batch and
  // is rethrown after the threads end.
  segment::CaseOptions options;
  options.output_dir = dir_ / "stop";
  options.preprocessed = true;
  options.predictor.mirror = false;
  fs::create_directories(options.output_dir);
  int calls = 0;
  EXPECT_THROW(segment::run_batch(models, cases, options, segment::BatchOptions{},
                                  [&](const segment::CaseReport&) {
                                    if (++calls == 2) throw std::runtime_error("stop");
                                  }),
               std::runtime_error);
  EXPECT_EQ(calls, 2);
}

}  // namespace
