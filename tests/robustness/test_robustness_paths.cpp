// The robustness suite, the user's paths: an output that is a file, a read-only or full file
// system, symlink loops, names too long or not UTF-8, empty input folders, killed writers. Every
// one is exit 3 naming the path (never "internal error"), with nothing half-written.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "hostile_files.hpp"
#include "medport/checkpoint/npy.hpp"
#include "robustness_checks.hpp"
#include "test_support.hpp"
#include "tiny_models.hpp"

namespace {

namespace fs = std::filesystem;
using namespace medport::testing;

class RobustnessPaths : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
    write_bytes(dir_ / "image.png", png_bytes(64, 64));
  }
  GuardedResult segment(const fs::path& input, const fs::path& out, GuardLimits limits = robustness_limits()) {
    return run_medport_guarded({"segment", phantom_model_onnx().string(), input.string(), "-o", out.string(), "--spacing",
                                "0.3,0.3", "--threads", "1"},
                               limits);
  }
  TempDir dir_;
};

TEST_F(RobustnessPaths, AnOutputThatIsAFileOrUnderAFile) {
  write_bytes(dir_ / "a_file", "x");
  expect_outcome(segment(dir_ / "image.png", dir_ / "a_file"), {3, "a_file", "not a folder"}, "segment -o FILE");
  expect_outcome(segment(dir_ / "image.png", dir_ / "a_file" / "out"), {3, "a_file", "Not a directory"}, "segment -o FILE/out");
  expect_outcome(run_medport_guarded({"phantom", "-o", (dir_ / "a_file").string()}, robustness_limits()),
                 {3, "a_file", ""}, "phantom -o FILE");
  write_tiny_add_one_model(dir_ / "m.onnx");
  medport::ckpt::write_npz(dir_ / "in.npz", {{"x", medport::Tensor::from_f32({2}, std::vector<float>{1, 2})}});
  fs::create_directory(dir_ / "a_folder");
  expect_outcome(run_medport_guarded({"run", (dir_ / "m.onnx").string(), "--inputs", (dir_ / "in.npz").string(), "-o",
                                      (dir_ / "a_folder").string()},
                                     robustness_limits()),
                 {3, "a_folder", ""}, "run -o FOLDER");
  EXPECT_TRUE(temporaries_below(dir_.path()).empty());
}

TEST_F(RobustnessPaths, AReadOnlyFileSystem) {
  // /proc refuses new files even to root, unlike a chmod-ed folder.
  expect_outcome(segment(dir_ / "image.png", "/proc/medport_robustness_out"), {3, "/proc/medport_robustness_out", ""},
                 "segment -o /proc/...");
  expect_outcome(run_medport_guarded({"phantom", "-o", "/proc/medport_robustness_out"}, robustness_limits()),
                 {3, "/proc/medport_robustness_out", ""}, "phantom -o /proc/...");
}

TEST_F(RobustnessPaths, AFullDiskLeavesNothingHalfWritten) {
  auto limits = robustness_limits();
  limits.file_size_bytes = 32 * 1024;  // every write past 32 KB fails with EFBIG, as on a full disk
  const auto r = run_medport_guarded({"phantom", "-o", (dir_ / "ph").string(), "--size", "512x512"}, limits);
  expect_outcome(r, {3, "phantom0001", "File too large"}, "phantom on a full disk");
  EXPECT_TRUE(everything_below(dir_ / "ph").empty()) << everything_below(dir_ / "ph").front();
  write_tiny_add_one_model(dir_ / "m.onnx");
  medport::ckpt::write_npz(dir_ / "in.npz", {{"x", medport::Tensor::from_f32({20000}, std::vector<float>(20000, 1.0F))}});
  const auto run = run_medport_guarded(
      {"run", (dir_ / "m.onnx").string(), "--inputs", (dir_ / "in.npz").string(), "-o", (dir_ / "out" / "y.npz").string()},
      limits);
  expect_outcome(run, {3, "y.npz", "File too large"}, "run on a full disk");
  EXPECT_TRUE(everything_below(dir_ / "out").empty());
}

TEST_F(RobustnessPaths, SymlinkLoopsAndNamesTooLong) {
  fs::create_symlink(dir_ / "loop_b", dir_ / "loop_a");
  fs::create_symlink(dir_ / "loop_a", dir_ / "loop_b");
  expect_outcome(segment(dir_ / "loop_a" / "x.png", dir_ / "out1"), {3, "loop_a", "symbolic links"}, "segment loop");
  expect_outcome(segment(dir_ / "loop_a", dir_ / "out2"), {3, "loop_a", "symbolic links"}, "segment loop folder");
  expect_outcome(run_medport_guarded({"echo-ef", (dir_ / "loop_a").string()}, robustness_limits()), {3, "loop_a", ""},
                 "echo-ef loop");
  const std::string too_long(300, 'n');
  expect_outcome(segment(dir_ / (too_long + ".png"), dir_ / "out3"), {3, "nnnn", "too long"}, "segment long name");
  // A path of thousands of characters still gives one short error line.
  fs::path deep = dir_.path();
  for (int i = 0; i < 40; ++i) deep /= std::string(100, 'd');
  const auto r = segment(deep / "x.png", dir_ / "out4");
  expect_outcome(r, {3, "dddd", ""}, "segment 4000-character path");
}

TEST_F(RobustnessPaths, EmptyInputFoldersAreInputErrors) {
  fs::create_directory(dir_ / "empty");
  expect_outcome(segment(dir_ / "empty", dir_ / "out"), {3, "empty", "no <case>_XXXX.png"}, "segment empty folder");
  expect_outcome(run_medport_guarded({"evaluate", (dir_ / "empty").string(), (dir_ / "empty").string()}, robustness_limits()),
                 {3, "empty", ""}, "evaluate empty folders");
  expect_outcome(run_medport_guarded({"echo-ef", (dir_ / "empty").string(), "--spacing", "0.3,0.3"}, robustness_limits()),
                 {3, "empty", ""}, "echo-ef empty folder");
}

TEST_F(RobustnessPaths, FifosAndEmptyNamesAreSaidAsSuch) {
  ASSERT_EQ(::mkfifo((dir_ / "pipe").c_str(), 0600), 0);
  expect_outcome(segment(dir_ / "pipe", dir_ / "out"), {3, "pipe", "not a regular file or folder"}, "segment of a FIFO");
  expect_outcome(segment(dir_ / "missing.png", dir_ / "out"), {3, "missing.png", "no such file or folder"}, "segment of nothing");
  expect_outcome(run_medport_guarded({"run", phantom_model_onnx().string(), "--inputs", (dir_ / "in.npz").string(), "-o", ""},
                                     robustness_limits()),
                 {2, "", "output file name is empty"}, "run -o ''");
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(RobustnessPaths, NamesUpToTheFileSystemLimitWork) {
  const long name_max = ::pathconf(dir_.path().c_str(), _PC_NAME_MAX);
  // The longest input whose outputs (<case>_overlay.png, 12 more characters) still fit.
  const std::string stem(static_cast<std::size_t>((name_max > 0 ? name_max : 255) - 12), 'L');
  fs::copy_file(dir_ / "image.png", dir_ / (stem + ".png"));
  const auto r = segment(dir_ / (stem + ".png"), dir_ / "out");
  expect_outcome(r, {0, "", ""}, "segment a long name");
  EXPECT_TRUE(fs::exists(dir_ / "out" / (stem + "_seg.png")));
  EXPECT_TRUE(fs::exists(dir_ / "out" / (stem + "_overlay.png")));
  EXPECT_TRUE(fs::exists(dir_ / "out" / (stem + ".json")));
  EXPECT_TRUE(temporaries_below(dir_.path()).empty());
}

TEST_F(RobustnessPaths, NonUtf8NamesAreNeverInternalErrors) {
  fs::create_directory(dir_ / "cases");
  fs::copy_file(dir_ / "image.png", dir_ / "cases" / "bad\xff_0000.png");
  const auto r = segment(dir_ / "cases", dir_ / "out");
  EXPECT_NE(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\xff'), std::string::npos) << "raw non-UTF-8 byte on stderr: " << r.err;
  // echo-ef and evaluate write such names into their JSON (replaced by U+FFFD), never failing.
  const auto p = run_medport({"phantom", "-o", (dir_ / "ph").string()});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const fs::path patient = dir_ / "ph" / "phantom0001";
  for (const std::string key : {"2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"}) {
    fs::rename(patient / ("phantom0001_" + key + "_gt.npy"), patient / ("p\xfe_" + key + "_gt.npy"));
    fs::remove(patient / ("phantom0001_" + key + "_gt.png"));
  }
  const auto ef = run_medport_guarded({"echo-ef", patient.string(), "--suffix", "gt", "--json", (dir_ / "ef.json").string()},
                                      robustness_limits());
  expect_outcome(ef, {0, "", ""}, "echo-ef with a non-UTF-8 name");
  EXPECT_NO_THROW((void)read_json(dir_ / "ef.json"));
}

// A case whose name is not UTF-8 is written whole: its JSON goes through medport::json_text
// (the name's invalid bytes replaced by U+FFFD inside the JSON; the files keep the name).
TEST_F(RobustnessPaths, NonUtf8CaseIsWrittenWhole) {
  fs::create_directory(dir_ / "cases");
  fs::copy_file(dir_ / "image.png", dir_ / "cases" / "bad\xff_0000.png");
  const auto r = segment(dir_ / "cases", dir_ / "out");
  expect_outcome(r, {0, "", ""}, "segment a non-UTF-8 case");
  EXPECT_TRUE(fs::exists(dir_ / "out" / "bad\xff.json"));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "bad\xff_seg.png"));
}

// An output name that is not UTF-8 gets its .onnx and its sidecar (written with json_text).
TEST_F(RobustnessPaths, NonUtf8OutputNeverLeavesAnOnnxWithoutItsSidecar) {
  const auto r = run_medport_guarded({"convert", (source_dir() / "models" / "phantom2d").string(), "-o",
                                      (dir_ / "m\xff.onnx").string()},
                                     robustness_limits());
  EXPECT_EQ(fs::exists(dir_ / "m\xff.onnx"), fs::exists(dir_ / "m\xff.medport.json")) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(RobustnessPaths, KilledWritersLeaveNoHalfPatientAndTheirTemporariesAreCleaned) {
  const auto child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string out = (dir_ / "ph").string();
    ::execl(MEDPORT_CLI, MEDPORT_CLI, "phantom", "-o", out.c_str(), "--patients", "200", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  for (const auto& entry : fs::directory_iterator(dir_ / "ph")) {
    const std::string name = entry.path().filename().string();
    if (name.front() == '.') continue;  // the killed writer's temporary
    EXPECT_TRUE(fs::exists(entry.path() / (name + "_truth.json"))) << "half-written patient " << name;
  }
  // A temporary left by a writer killed long ago is removed by the next run; a fresh one stays.
  fs::create_directories(dir_ / "ph" / ".phantom9999.tmp-Old123");
  fs::last_write_time(dir_ / "ph" / ".phantom9999.tmp-Old123", fs::file_time_type::clock::now() - std::chrono::hours(2));
  fs::create_directories(dir_ / "ph" / ".phantom9998.tmp-New123");
  const auto r = run_medport({"phantom", "-o", (dir_ / "ph").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "ph" / ".phantom9999.tmp-Old123"));
  EXPECT_TRUE(fs::exists(dir_ / "ph" / ".phantom9998.tmp-New123"));
}

}  // namespace
