#pragma once
// The .mlpackage folder Apple's tools write: Manifest.json naming two items (the model spec and
// the weights folder) by identifier, and Data/com.apple.CoreML/{model.mlmodel, weights/weight.bin}.
// The package is built in a temporary folder beside the destination and renamed into place, so
// an existing package is replaced whole or not at all. Identifiers are derived from the content
// (SHA-256 of the spec and the weights), so identical models give identical packages.
#include <filesystem>
#include <string>
#include <vector>

#include "export/coreml/blob_storage.hpp"

namespace medport::coreml {

inline constexpr const char* kPackageData = "Data/com.apple.CoreML";
inline constexpr const char* kPackageSpec = "Data/com.apple.CoreML/model.mlmodel";
inline constexpr const char* kPackageWeights = "Data/com.apple.CoreML/weights/weight.bin";

// Returns every file written (final paths).
std::vector<std::filesystem::path> write_mlpackage(const std::filesystem::path& path, const std::string& model_bytes,
                                                   const BlobPlan& blobs);

// The spec file of a package (checks Manifest.json names it), or the .mlmodel file itself.
std::filesystem::path package_spec_path(const std::filesystem::path& path);
// InputError when a component of `inside` below `package` is a symbolic link: Apple's packages hold
// none, and one could point a reader at any file on the machine.
void refuse_links_inside(const std::filesystem::path& package, const std::filesystem::path& inside);

}  // namespace medport::coreml
