#pragma once
// Uploaded files of a multipart request, written into a private temporary folder for the imaging
// readers (which read by path and pick the format by file ending) and removed with the request.
// A file is stored as `<field>[_<n>]<ending>`: the client's file name is never used beyond its
// ending (it may carry patient data), and the ending must be one the readers know.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace medport::server {

class UploadFolder {
 public:
  UploadFolder();  // mkdtemp under the system temp folder, mode 0700
  ~UploadFolder();
  UploadFolder(const UploadFolder&) = delete;
  UploadFolder& operator=(const UploadFolder&) = delete;

  // Writes `content`; `client_name` gives only the ending (".nii.gz", ".png", ...). UsageError
  // for a missing or unknown ending, or an empty file.
  std::filesystem::path store(const std::string& field, std::string_view client_name, std::string_view content);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int counter_ = 0;
};

// The image ending of a client file name (lower-cased, ".nii.gz" kept whole); empty when unknown.
std::string known_image_ending(std::string_view client_name);

}  // namespace medport::server
