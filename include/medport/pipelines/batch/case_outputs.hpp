#pragma once
// The files of one case, written together or not at all. Writers write each file at path(name),
// inside a private staging folder in the output folder (`.medport-staging-<pid>-<n>`) under its
// final name, so writers that choose a format by the file's ending work unchanged. commit() then
// removes the case's old done-marker (the case is no longer done), moves every staged file into
// the output folder and the done-marker (OUTDIR/<case>.json) last. If anything fails before or
// during commit(), the staged files and those already moved are removed: a failed case never
// leaves a label map without its JSON.
//
//   CaseOutputFiles files(out_dir, "patient1");
//   write_label_map(files.path("patient1_seg.nii.gz"), ...);
//   write_file_atomic(files.path("patient1.json"), summary);
//   auto written = files.commit("patient1.json");     // final paths, the JSON last
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace medport::pipelines::batch {

class CaseOutputFiles {
 public:
  // Creates the output folder and the staging folder; InputError naming the output folder when
  // it cannot be written.
  explicit CaseOutputFiles(std::filesystem::path output_dir);
  ~CaseOutputFiles();
  CaseOutputFiles(const CaseOutputFiles&) = delete;
  CaseOutputFiles& operator=(const CaseOutputFiles&) = delete;

  // Where to write the output `file_name` (a plain name, file or folder) before commit().
  std::filesystem::path path(const std::string& file_name) const;
  // Moves everything written into the staging folder into place (sorted by name), then
  // `done_marker_name`, which must have been written. Returns the final paths, the marker last.
  std::vector<std::filesystem::path> commit(const std::string& done_marker_name);

  const std::filesystem::path& output_dir() const { return output_dir_; }

 private:
  std::filesystem::path output_dir_;
  std::filesystem::path staging_;
  bool committed_ = false;
};

// Removes staging folders left behind by killed medport processes (their pid no longer runs).
// Batches call it once before their first case.
void remove_stale_staging(const std::filesystem::path& output_dir);

}  // namespace medport::pipelines::batch
