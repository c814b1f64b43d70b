#pragma once
// The cases of a batch run, shared by `segment` and `fewshot` (and any later front end): case
// names from file names, image files of a folder, unique names, selection by a predicate (e.g. a
// shard of the list), and the resumable rule: a case is done when its OUTDIR/<case>.json exists,
// because that file is always the last one a case writes (case_outputs.hpp).
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace medport::pipelines::batch {

struct BatchCase {
  std::string name;                           // output files are OUTDIR/<name>...
  std::vector<std::filesystem::path> files;   // its input files (several: channels of one case)
};

// "dir/patient0001.npy" -> "patient0001"; "dir/la_003_0000.nii.gz" -> "la_003_0000". Endings
// compared case-insensitively; an unknown ending stays part of the name.
std::string case_name_for(const std::filesystem::path& input);

// Every image file directly inside `folder` that the image readers take (by ending), sorted by
// name; hidden files and MetaImage `.raw` data files are left out. InputError when `folder` is
// not a folder.
std::vector<std::filesystem::path> image_files_in(const std::filesystem::path& folder);

// UsageError when two cases share a name (naming both inputs) or a case takes a reserved name
// (e.g. "batch_summary", whose JSON a batch writes itself).
void check_case_names(std::span<const BatchCase> cases, std::span<const std::string> reserved = {});

// The cases `keep` accepts, in their order.
std::vector<BatchCase> filter_cases(std::span<const BatchCase> cases, const std::function<bool(const BatchCase&)>& keep);

// OUTDIR/<case>.json, the file a finished case writes last.
std::filesystem::path done_marker(const std::filesystem::path& output_dir, const std::string& case_name);
// Its presence: the case is skipped unless the run overwrites.
bool is_done(const std::filesystem::path& output_dir, const std::string& case_name);

}  // namespace medport::pipelines::batch
