#pragma once
// Output folders that are safe to write into: checked before long work starts, written whole or
// not at all, and cleaned of what killed writers left behind.
#include <chrono>
#include <filesystem>
#include <string_view>

namespace medport {

// Fails fast (InputError naming the path) when `file` could not be written at the end of a long
// run: it is a folder, its folder cannot be created, or nothing can be created there (read-only,
// no permission, no space for an inode). Creates the folder; leaves no file behind.
void check_output_file_writable(const std::filesystem::path& file);
// The same for a folder that will receive files.
void check_output_folder_writable(const std::filesystem::path& folder);

// Removes, directly inside `folder`, the temporaries of writers that were killed: files and
// folders named like AtomicFile's / AtomicFolder's ".<name>.tmp-XXXXXX[suffix]" whose last change
// is older than `min_age` (a live writer's temporary is younger). Returns how many were removed;
// a folder that does not exist has none.
std::size_t remove_stale_temporaries(const std::filesystem::path& folder,
                                     std::chrono::minutes min_age = std::chrono::minutes(60));

// A folder written as a whole: files go into a hidden ".<name>.tmp-XXXXXX" folder beside the
// destination, and commit() puts it in place with one rename (atomically exchanged with an
// existing destination, which is then removed). Destroyed without commit(), it removes the
// temporary folder: after a failure the destination is untouched.
class AtomicFolder {
 public:
  explicit AtomicFolder(std::filesystem::path destination);
  ~AtomicFolder();
  AtomicFolder(const AtomicFolder&) = delete;
  AtomicFolder& operator=(const AtomicFolder&) = delete;

  const std::filesystem::path& path() const { return temp_; }  // write here
  const std::filesystem::path& destination() const { return destination_; }
  void commit();

 private:
  std::filesystem::path destination_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

// True when `name` looks like a temporary of AtomicFile or AtomicFolder.
bool is_atomic_temporary_name(std::string_view name);

}  // namespace medport
