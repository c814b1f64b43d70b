// The batch pieces shared by segment and fewshot (pipelines/batch): case names and collection,
// the resumable skip rule, which errors fail a case and which stop the batch, and writing a
// case's files together or not at all.
#include <gtest/gtest.h>

#include <algorithm>
#include <unistd.h>

#include "medport/error.hpp"
#include "medport/pipelines/batch/case_outputs.hpp"
#include "medport/pipelines/batch/cases.hpp"
#include "medport/pipelines/batch/runner.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::pipelines::batch;
using medport::testing::TempDir;
namespace fs = std::filesystem;

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(BatchCases, NamesFilesAndSelection) {
  EXPECT_EQ(case_name_for("/a/b/patient0001.npy"), "patient0001");
  EXPECT_EQ(case_name_for("x.NII.GZ"), "x");
  EXPECT_EQ(case_name_for("notes.txt"), "notes.txt");
  TempDir dir;
  for (const char* f : {"b.png", "a.nii.gz", ".hidden.png", "notes.txt", "vol.mhd", "vol.raw"})
    write_file_atomic(dir / "in" / f, std::string_view("x"));
  const auto files = image_files_in(dir / "in");
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].filename(), "a.nii.gz");
  EXPECT_EQ(files[1].filename(), "b.png");
  EXPECT_EQ(files[2].filename(), "vol.mhd");
  EXPECT_THROW(image_files_in(dir / "nope"), InputError);

  const std::vector<BatchCase> cases{{"a", {"x/a.png"}}, {"b", {"x/b.png"}}, {"c", {"y/c.png"}}};
  EXPECT_NO_THROW(check_case_names(cases));
  const std::string reserved[] = {"b"};
  EXPECT_THROW(check_case_names(cases, reserved), UsageError);
  const std::vector<BatchCase> twice{{"a", {"x/a.png"}}, {"a", {"y/a.npy"}}};
  try {
    check_case_names(twice);
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("y/a.npy"), std::string::npos) << e.what();
  }
  // A predicate picks a subset in order (e.g. a shard: every second case).
  std::size_t i = 0;
  const auto shard = filter_cases(cases, [&](const BatchCase&) { return i++ % 2 == 0; });
  ASSERT_EQ(shard.size(), 2u);
  EXPECT_EQ(shard[1].name, "c");
}

TEST(BatchRunner, BadInputsFailTheirCaseEngineFailuresStopTheBatch) {
  TempDir out;
  write_file_atomic(done_marker(out.path(), "done"), std::string_view("{}"));
  const std::vector<BatchCase> cases{{"a", {}}, {"done", {}}, {"bad", {}}, {"usage", {}}, {"b", {}}};
  std::vector<std::string> seen;
  std::vector<CaseReport::Status> status;
  auto on_case = [&](const CaseReport& r) {
    seen.push_back(r.case_name);
    status.push_back(r.status);
  };
  RunOptions options;
  options.output_dir = out.path();
  auto process = [&](const BatchCase& c, CaseReport& r) {
    if (c.name == "bad") throw InputError("bad.png", "broken");
    if (c.name == "usage") throw UsageError("a value this case cannot take");
    if (c.name == "engine") throw EngineError("onnxruntime", "FAIL", "out of memory");
    r.seconds = 1.0;
  };
  const auto totals = run_cases(cases, options, process, on_case);
  using S = CaseReport::Status;
  EXPECT_EQ(status, (std::vector<S>{S::Done, S::Skipped, S::Failed, S::Failed, S::Done}));
  EXPECT_EQ(totals.done, 2u);
  EXPECT_EQ(totals.skipped, 1u);
  EXPECT_EQ(totals.failed, 2u);
  EXPECT_DOUBLE_EQ(totals.busy_seconds, 2.0);

  // With overwrite the done case runs again.
  options.overwrite = true;
  status.clear();
  run_cases(std::span(cases).first(2), options, process, on_case);
  EXPECT_EQ(status, (std::vector<S>{S::Done, S::Done}));

  // An engine failure stops the batch: the cases before it were reported, none after it.
  seen.clear();
  const std::vector<BatchCase> stopping{{"a", {}}, {"engine", {}}, {"b", {}}};
  EXPECT_THROW(run_cases(stopping, options, process, on_case), EngineError);
  EXPECT_EQ(seen, (std::vector<std::string>{"a"}));
  // So does any error that is not the input's fault.
  EXPECT_THROW(run_cases(stopping, options, [](const BatchCase&, CaseReport&) { throw std::runtime_error("bug"); }, on_case),
               std::runtime_error);
}

TEST(CaseOutputFiles, AllFilesTogetherTheDoneMarkerLast) {
  TempDir out;
  {
    CaseOutputFiles files(out / "res");
    write_file_atomic(files.path("c_seg.png"), std::string_view("labels"));
    fs::create_directories(files.path("c_slices"));
    write_file_atomic(files.path("c_slices") / "slice_000.png", std::string_view("s"));
    EXPECT_EQ(names_in(out / "res").size(), 1u);  // only the staging folder so far
    write_file_atomic(files.path("c.json"), std::string_view("{}"));
    const auto written = files.commit("c.json");
    ASSERT_EQ(written.size(), 3u);
    EXPECT_EQ(written.back(), out / "res" / "c.json");
  }
  EXPECT_EQ(names_in(out / "res"), (std::vector<std::string>{"c.json", "c_seg.png", "c_slices"}));
  EXPECT_EQ(read_file(out / "res" / "c_slices" / "slice_000.png").size(), 1u);

  // Redone: the new files replace the old ones (a folder output too).
  {
    CaseOutputFiles files(out / "res");
    write_file_atomic(files.path("c_seg.png"), std::string_view("labels v2"));
    fs::create_directories(files.path("c_slices"));
    write_file_atomic(files.path("c_slices") / "slice_001.png", std::string_view("t"));
    write_file_atomic(files.path("c.json"), std::string_view("{\"v\": 2}"));
    files.commit("c.json");
  }
  EXPECT_EQ(read_file(out / "res" / "c_seg.png").size(), 9u);
  EXPECT_EQ(names_in(out / "res" / "c_slices"), (std::vector<std::string>{"slice_001.png"}));

  // A writer failing half-way leaves the output folder as it was.
  try {
    CaseOutputFiles files(out / "res");
    write_file_atomic(files.path("d_seg.png"), std::string_view("labels"));
    throw InputError("d.png", "cannot be finished");
  } catch (const InputError&) {
  }
  EXPECT_EQ(names_in(out / "res"), (std::vector<std::string>{"c.json", "c_seg.png", "c_slices"}));

  // Committing without the done-marker is a programming error, and writes nothing.
  {
    CaseOutputFiles files(out / "res");
    write_file_atomic(files.path("e_seg.png"), std::string_view("labels"));
    EXPECT_THROW(files.commit("e.json"), std::logic_error);
  }
  EXPECT_FALSE(fs::exists(out / "res" / "e_seg.png"));
}

TEST(CaseOutputFiles, StagingOfKilledProcessesIsRemoved) {
  TempDir out;
  // A pid that cannot run: above the kernel's pid limit.
  const fs::path stale = out / ".medport-staging-2147483646-0";
  const fs::path mine = out / (".medport-staging-" + std::to_string(::getpid()) + "-99");
  fs::create_directories(stale);
  fs::create_directories(mine);
  write_file_atomic(stale / "x_seg.png", std::string_view("x"));
  remove_stale_staging(out.path());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(mine));  // this process's own is left to its owner
}

TEST(CaseOutputFiles, AnUnwritableOutputFolderIsAnInputErrorNamingIt) {
  TempDir out;
  write_file_atomic(out / "file", std::string_view("x"));
  try {
    CaseOutputFiles files(out / "file" / "res");
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find((out / "file").string()), std::string::npos) << e.what();
  }
}

}  // namespace
