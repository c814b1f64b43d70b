// Output folders: AtomicFolder (whole or nothing), stale temporaries of killed writers removed,
// destinations checked before long work, temporaries of names near the file system's limit.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/output_paths.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::testing::TempDir;

void touch(const fs::path& p, const std::string& text = "x") { std::ofstream(p) << text; }

void age(const fs::path& p, std::chrono::minutes by) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - by);
}

TEST(CoreOutputPaths, AtomicFolderAppearsWholeOrNotAtAll) {
  TempDir dir;
  {
    medport::AtomicFolder folder(dir / "patient");
    touch(folder.path() / "a.txt");
    EXPECT_FALSE(fs::exists(dir / "patient"));  // nothing visible before commit
  }  // no commit: as if the writer failed
  EXPECT_FALSE(fs::exists(dir / "patient"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 0);
  {
    medport::AtomicFolder folder(dir / "patient");
    touch(folder.path() / "a.txt", "first");
    folder.commit();
  }
  EXPECT_EQ(medport::testing::read_text(dir / "patient" / "a.txt"), "first");
  {
    medport::AtomicFolder folder(dir / "patient");  // a rerun replaces the earlier folder
    touch(folder.path() / "b.txt", "second");
    folder.commit();
  }
  EXPECT_FALSE(fs::exists(dir / "patient" / "a.txt"));
  EXPECT_EQ(medport::testing::read_text(dir / "patient" / "b.txt"), "second");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(CoreOutputPaths, StaleTemporariesOfKilledWritersAreRemoved) {
  TempDir dir;
  touch(dir / ".case_seg.png.tmp-a1B2c3");                       // AtomicFile, old
  touch(dir / ".case.nii.gz.tmp-Zz9yX8.nii.gz");                 // AtomicFile with a kept ending, old
  fs::create_directory(dir / ".patient0001.tmp-qwErty");         // AtomicFolder, old
  touch(dir / ".patient0001.tmp-qwErty" / "inside.png");
  touch(dir / ".young.png.tmp-abcdef");                          // a live writer's
  touch(dir / "case_seg.png");                                   // real outputs stay
  touch(dir / ".hidden.tmp-ab");                                 // not the pattern
  touch(dir / ".notes.tmp-abc!ef");
  for (const char* old : {".case_seg.png.tmp-a1B2c3", ".case.nii.gz.tmp-Zz9yX8.nii.gz", ".patient0001.tmp-qwErty",
                          "case_seg.png", ".hidden.tmp-ab", ".notes.tmp-abc!ef"})
    age(dir / old, std::chrono::minutes(120));
  EXPECT_EQ(medport::remove_stale_temporaries(dir.path()), 3U);
  EXPECT_TRUE(fs::exists(dir / ".young.png.tmp-abcdef"));
  EXPECT_TRUE(fs::exists(dir / "case_seg.png"));
  EXPECT_TRUE(fs::exists(dir / ".hidden.tmp-ab"));
  EXPECT_TRUE(fs::exists(dir / ".notes.tmp-abc!ef"));
  EXPECT_FALSE(fs::exists(dir / ".patient0001.tmp-qwErty"));
  EXPECT_EQ(medport::remove_stale_temporaries(dir / "missing"), 0U);
}

TEST(CoreOutputPaths, DestinationsAreCheckedBeforeLongWork) {
  TempDir dir;
  touch(dir / "file");
  EXPECT_THROW(medport::check_output_file_writable(dir / "file" / "out.npz"), medport::InputError);
  EXPECT_THROW(medport::check_output_folder_writable(dir / "file"), medport::InputError);
  fs::create_directory(dir / "folder");
  EXPECT_THROW(medport::check_output_file_writable(dir / "folder"), medport::InputError);
  EXPECT_NO_THROW(medport::check_output_file_writable(dir / "new" / "sub" / "out.npz"));
  EXPECT_TRUE(fs::is_directory(dir / "new" / "sub"));
  EXPECT_TRUE(fs::is_empty(dir / "new" / "sub"));  // the probe leaves nothing
}

TEST(CoreOutputPaths, NamesUpToTheFileSystemLimitCanBeWritten) {
  TempDir dir;
  const long name_max = ::pathconf(dir.path().c_str(), _PC_NAME_MAX);
  const std::string name = std::string(static_cast<std::size_t>(name_max > 0 ? name_max : 255) - 7, 'n') + ".nii.gz";
  medport::write_file_atomic(dir / name, std::string_view("data"));
  EXPECT_EQ(medport::testing::read_text(dir / name), "data");
  {
    medport::AtomicFile kept_ending(dir / name, ".nii.gz");
    EXPECT_TRUE(medport::is_atomic_temporary_name(kept_ending.temp_path().filename().string()));
    EXPECT_TRUE(kept_ending.temp_path().string().ends_with(".nii.gz"));
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

}  // namespace

namespace {

TEST(CoreOutputPaths, AFifoOrDeviceIsNeverReplacedByAFile) {
  TempDir dir;
  const fs::path fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THROW(medport::AtomicFile file(fifo), medport::InputError);
  EXPECT_THROW(medport::check_output_file_writable(fifo), medport::InputError);
  EXPECT_TRUE(fs::is_fifo(fifo));
  // -o /dev/null as root would otherwise swap the system's device for a regular file.
  EXPECT_THROW(medport::check_output_file_writable("/dev/null"), medport::InputError);
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
}

}  // namespace
