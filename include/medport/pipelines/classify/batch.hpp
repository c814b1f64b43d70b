#pragma once
// The images of one `classify` call: files as given, folders expanded to their image files.
// The batch itself runs on the shared batch helpers (image_batch.hpp, pipelines/batch/).
#include <filesystem>
#include <string>
#include <vector>

namespace medport::classify {

struct ImageInput {
  std::string name;  // case name: the file stem ("<folder>_<stem>" when two inputs share a stem)
  std::filesystem::path path;
};

// Image endings classify reads: .png .jpg .jpeg .bmp .tif .tiff .npy (case-insensitive).
bool is_image_file(const std::filesystem::path& path);
// InputError naming an input that does not exist, or a folder without images.
std::vector<ImageInput> collect_images(const std::vector<std::filesystem::path>& inputs);

}  // namespace medport::classify
