#pragma once
// A model repository in Triton Inference Server's layout, the unit medport serves and deploys:
//
//   DIR/NAME/config.pbtxt              Triton's model configuration (model_config.hpp)
//   DIR/NAME/VERSION/model.onnx        one graph (nnU-Net, timm, guided-diffusion) ...
//   DIR/NAME/VERSION/model.medport.json   ... with medport's sidecar beside it
//   DIR/NAME/VERSION/medport.json      or a converted multi-graph folder (IRIS: encode_support.onnx,
//                                      forward.onnx, tune_step.onnx, memory_bank.npz); config.pbtxt
//                                      then names the graph Triton serves (default_model_filename)
//
// VERSION is a positive integer folder name; the highest is served. Model names are checked
// before they touch the file system, so a request cannot reach outside DIR.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace medport::triton {

// 1-128 characters of [A-Za-z0-9_.-], starting with a letter or digit (so never "." or "..").
bool is_valid_model_name(std::string_view name);
// InputError("model name ...") when it is not valid; the message quotes at most 64 characters.
void check_model_name(std::string_view name);

struct ModelVersion {
  std::int64_t version = 0;
  std::filesystem::path dir;
};

struct RepositoryEntry {
  std::string name;
  std::filesystem::path dir;
  std::vector<ModelVersion> versions;  // ascending
  bool has_config = false;             // NAME/config.pbtxt exists
};

// The entries of a repository folder: every sub-folder with a valid name (others are listed in
// `ignored` with the reason). InputError when `root` is not a folder.
struct RepositoryScan {
  std::vector<RepositoryEntry> entries;  // sorted by name
  std::vector<std::string> ignored;
};
RepositoryScan scan_repository(const std::filesystem::path& root);
// One entry by name (checked first), nullopt when the folder does not exist.
std::optional<RepositoryEntry> find_entry(const std::filesystem::path& root, std::string_view name);

// The medport model inside a version folder: VERSION/model.onnx when present, else the folder
// itself when it holds a multi-graph sidecar (VERSION/medport.json). InputError otherwise.
std::filesystem::path model_in_version(const std::filesystem::path& version_dir);

}  // namespace medport::triton
