// What the batch commands print, from the library: the per-case lines, failures and the stop note
// of BatchConsole, the shard note, the closing summaries of segment and fewshot and fewshot's
// plot-only line; and the input checks segment makes before a batch.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>

#include "medport/error.hpp"
#include "medport/pipelines/batch/console.hpp"
#include "medport/pipelines/batch/shard.hpp"
#include "medport/pipelines/fewshot/bank_files.hpp"
#include "medport/pipelines/fewshot/batch.hpp"
#include "medport/pipelines/segment/batch_runner.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::pipelines::batch;
using medport::testing::TempDir;
namespace fs = std::filesystem;

// A temporary stream and what was written to it.
class Captured {
 public:
  Captured() : file_(std::tmpfile(), &std::fclose) {}
  std::FILE* stream() const { return file_.get(); }
  std::string text() const {
    std::fflush(file_.get());
    std::rewind(file_.get());
    std::string out;
    for (int c; (c = std::fgetc(file_.get())) != EOF;) out.push_back(static_cast<char>(c));
    return out;
  }

 private:
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
};

CaseReport report(const std::string& name, CaseReport::Status status, double seconds = 0.0, const std::string& message = {}) {
  CaseReport r;
  r.case_name = name;
  r.status = status;
  r.seconds = seconds;
  r.message = message;
  return r;
}

TEST(BatchConsole, OneLinePerCaseAndTheFailuresKept) {
  Captured out;
  BatchConsole console("segment", 3, false, out.stream());
  const double wall = console.run("/out", [&] {
    console.case_done(report("a", CaseReport::Status::Skipped));
    console.case_done(report("b", CaseReport::Status::Failed, 0.0, "b.png: cannot decode"));
    console.case_done(report("c", CaseReport::Status::Done, 1.234), " (quality check failed)");
  });
  EXPECT_GE(wall, 0.0);
  EXPECT_EQ(out.text(),
            "[1/3] a: already done, skipped\n"
            "[2/3] b: FAILED: b.png: cannot decode\n"
            "[3/3] c: done in 1.23 s (quality check failed)\n");
  EXPECT_EQ(console.failures(), (std::vector<std::string>{"b.png: cannot decode"}));
}

TEST(BatchConsole, AnEngineFailureSaysWhatIsCompleteAndIsRethrown) {
  Captured out;
  BatchConsole console("fewshot", 3, false, out.stream());
  EXPECT_THROW(console.run("/res", [&] {
    console.case_done(report("a", CaseReport::Status::Done, 0.5));
    console.case_done(report("b", CaseReport::Status::Skipped));
    throw EngineError("onnxruntime", "", "out of memory");
  }),
               EngineError);
  EXPECT_EQ(out.text(),
            "[1/3] a: done in 0.50 s\n"
            "[2/3] b: already done, skipped\n"
            "fewshot: batch stopped by an engine failure; the 1 case(s) finished before it are complete in /res\n");
  // Any other error passes as it is, without the note.
  Captured other;
  BatchConsole quiet("segment", 1, false, other.stream());
  EXPECT_THROW(quiet.run("/res", [] { throw std::logic_error("internal"); }), std::logic_error);
  EXPECT_EQ(other.text(), "");
}

TEST(BatchConsole, TakeShardSaysHowManyItKept) {
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) names.push_back("case" + std::to_string(i));
  Captured out;
  const auto kept = take_shard(names, "1/4", [](const std::string& n) { return n; }, out.stream());
  EXPECT_EQ(kept, select_shard(names, {1, 4}, [](const std::string& n) { return n; }));
  EXPECT_EQ(out.text(), "shard 1/4: " + std::to_string(kept.size()) + " of 40 case(s)\n");
  EXPECT_THROW(take_shard(names, "4/4", [](const std::string& n) { return n; }, out.stream()), UsageError);
}

TEST(BatchSummaries, SegmentAndFewshotClosingLines) {
  BatchTotals totals;
  totals.done = 2;
  totals.skipped = 1;
  totals.failed = 1;
  totals.busy_seconds = 1.5;
  const std::vector<std::string> failures{"x.png: cannot decode"};
  EXPECT_EQ(segment::batch_summary(totals, 65.0, "/out", failures),
            "segmented 2 case(s), skipped 1 already done, 1 failed in 1m05s (0.75 s per case) -> /out\n"
            "  failed: x.png: cannot decode\n");
  EXPECT_EQ(segment::batch_summary(BatchTotals{}, 0.3, "/out", {}),
            "segmented 0 case(s), skipped 0 already done, 0 failed in 0.3s -> /out\n");

  pipelines::fewshot::FewshotBatchOutcome outcome;
  outcome.totals = totals;
  outcome.quality_failed = 1;
  outcome.summary = {{"wall_seconds", 12.34}};
  EXPECT_EQ(pipelines::fewshot::batch_summary_line(outcome, "/res"),
            "fewshot: 2 case(s) done, 1 skipped as already done, 1 failed, 1 failed a quality check in 12.3s -> /res\n");
  EXPECT_EQ(pipelines::fewshot::bank_plot_line({{"file", "plot.png"}, {"bank", "bank.npz"}, {"prototypes", 3}, {"examples", 7}}),
            "fewshot: PCA plot of bank.npz (3 prototypes, 7 examples) -> plot.png\n");
  auto done = report("a", CaseReport::Status::Done);
  EXPECT_EQ(pipelines::fewshot::quality_note(done), "");
  done.facts["quality_passed"] = true;
  EXPECT_EQ(pipelines::fewshot::quality_note(done), "");
  done.facts["quality_passed"] = false;
  EXPECT_EQ(pipelines::fewshot::quality_note(done), " (quality check failed)");
}

TEST(SegmentInputs, FoldersWithoutCasesAreNamed) {
  TempDir dir;
  fs::create_directories(dir / "empty");
  write_file_atomic(dir / "cases" / "p1_0000.png", std::string_view("x"));
  write_file_atomic(dir / "arrays" / "p1.npy", std::string_view("x"));
  const std::vector<fs::path> raw{dir / "cases", dir / "missing.png", dir / "empty"};
  try {
    segment::check_case_inputs(raw, false, ".png");
    FAIL() << "an empty folder was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "empty").string() + ": holds no <case>_XXXX.png files to segment");
  }
  EXPECT_NO_THROW(segment::check_case_inputs(std::vector<fs::path>{dir / "cases", dir / "missing.png"}, false, ".png"));
  EXPECT_THROW(segment::check_case_inputs(std::vector<fs::path>{dir / "cases"}, true, ".png"), InputError);
  EXPECT_NO_THROW(segment::check_case_inputs(std::vector<fs::path>{dir / "arrays"}, true, ".png"));
}

}  // namespace
