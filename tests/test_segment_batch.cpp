// Batch mode of `medport segment` with I/O overlapped with inference (batch_runner.hpp): the same
// files as running the cases one after another, reports in input order, a bad case in the middle
// reported and skipped, an engine failure in the middle stopping the batch with the finished
// cases intact, resumable, and no deadlock with one case in flight.
#include <gtest/gtest.h>

#include <algorithm>

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

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

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

TEST_F(SegmentBatch, ResultsAreComputedInMemoryThenWrittenAsTheCliWritesThem) {
  const Tensor image = ckpt::read_npz_member(npz_, "image");
  cv::Mat png(60, 45, CV_8UC1);
  for (int r = 0; r < png.rows; ++r)
    for (int c = 0; c < png.cols; ++c) png.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>((r * 7 + c * 3) % 256);
  ASSERT_TRUE(cv::imwrite((dir_ / "echo.png").string(), png));
  ckpt::write_npy_file(dir_ / "pre.npy", image);
  std::vector<segment::LoadedModel> models{segment::load_model(onnx_, runtime::session_options_from_flags(1, "cpu"))};
  for (const bool preprocessed : {false, true}) {
    const fs::path input = dir_ / (preprocessed ? "pre.npy" : "echo.png");
    segment::CaseOptions options;
    options.preprocessed = preprocessed;
    options.predictor.mirror = false;
    options.save_probabilities = true;
    options.save_logits = true;
    const auto result = segment::compute_case(models, {pipelines::batch::case_name_for(input), {input}}, options);
    EXPECT_FALSE(result.overlay_png.empty());
    ASSERT_TRUE(result.probabilities && result.logits);
    EXPECT_FALSE(result.summary.contains("outputs"));
    EXPECT_EQ(result.labels.shape, (std::vector<std::int64_t>(result.summary["shape"])));
    const auto lib = dir_ / ("lib" + std::to_string(preprocessed)), cli = dir_ / ("cli" + std::to_string(preprocessed));
    const auto written = segment::write_case_outputs(result, lib);
    EXPECT_EQ(written.files.back().extension(), ".json");
    std::vector<std::string> args{"segment", onnx_.string(), input.string(), "-o", cli.string(), "--no-tta",
                                  "--save-probabilities", "--save-logits"};
    if (preprocessed) args.push_back("--preprocessed");
    const auto r = run_medport(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_same_outputs(lib, cli);
  }
}

TEST_F(SegmentBatch, EngineFailureStopsTheBatchWithTheFinishedCasesIntact) {
  // c1..c5 preprocessed; c3 holds one value the trapped model fails on inside ONNX Runtime.
  const auto image = ckpt::read_npz_member(npz_, "image").to_f32();  // (1, 200, 150)
  const fs::path in = dir_ / "in";
  for (int i = 1; i <= 5; ++i) {
    std::vector<float> crop(image.begin(), image.begin() + 120 * 150);
    if (i == 3) crop[5000] = 1e7F;
    ckpt::write_npy_file(in / ("c" + std::to_string(i) + ".npy"), Tensor::from_f32({1, 120, 150}, crop));
  }
  const fs::path trapped_dir = dir_ / "trapped";
  fs::create_directories(trapped_dir);
  MEDPORT_ENGINE_FAILURE_MODEL_OR_SKIP(onnx_, trapped_dir / "camus.onnx", "input", 1e6);
  fs::copy_file(dir_ / "camus.medport.json", trapped_dir / "camus.medport.json");
  const auto trapped = trapped_dir / "camus.onnx";

  const auto reference = dir_ / "reference";  // c1, c2 with the intact model
  auto r = run_medport({"segment", onnx_.string(), (in / "c1.npy").string(), (in / "c2.npy").string(), "-o",
                        reference.string(), "--preprocessed", "--no-tta", "--save-probabilities"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const bool overlap : {true, false}) {
    const auto out = dir_ / (overlap ? "ovl" : "seq");
    std::vector<std::string> args{"segment", trapped.string(), in.string(), "-o", out.string(), "--preprocessed",
                                  "--no-tta", "--save-probabilities"};
    if (!overlap) args.push_back("--no-overlap");
    r = run_medport(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("engine error"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("batch stopped by an engine failure; the 2 case(s) finished before it are complete"),
              std::string::npos)
        << r.err;
    // c1 and c2 complete and as the intact model writes them; nothing of c3..c5, no staging left.
    EXPECT_EQ(names_in(out), (std::vector<std::string>{"c1.json", "c1_overlay.png", "c1_probabilities.npz", "c1_seg.npy",
                                                       "c2.json", "c2_overlay.png", "c2_probabilities.npz", "c2_seg.npy"}))
        << overlap;
    for (const auto& name : names_in(reference)) {
      if (name.ends_with(".json"))  // the same but for the model file it names
        EXPECT_EQ(medport::testing::read_json(reference / name)["labels"], medport::testing::read_json(out / name)["labels"]);
      else
        EXPECT_EQ(read_file(reference / name), read_file(out / name)) << name;
    }
    // Resumed with a working model, the batch finishes what was left.
    r = run_medport({"segment", onnx_.string(), in.string(), "-o", out.string(), "--preprocessed", "--no-tta",
                     "--save-probabilities"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("segmented 3 case(s), skipped 2 already done"), std::string::npos) << r.err;
  }
}

}  // namespace
