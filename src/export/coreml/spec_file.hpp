#pragma once
// Opening a Core ML file for reading: the spec protobuf (of a package or a .mlmodel) and, for
// ML Programs, the weight file its consts refer to.
#include <filesystem>
#include <memory>
#include <string>

#include "coreml_model.pb.h"
#include "export/coreml/blob_storage.hpp"

namespace medport::coreml {

struct SpecFile {
  std::filesystem::path path;       // as given
  std::filesystem::path spec_path;  // model.mlmodel inside a package, or the file itself
  spec::Model model;
  // weight.bin of a package (nullptr when absent: a NeuralNetwork model or a program without blobs)
  std::unique_ptr<BlobReader> weights;
};

// InputError naming the file when it is missing, not a Core ML spec, or its weights are damaged.
SpecFile open_spec(const std::filesystem::path& path);

// The ML Program's main block (InputError when the function or its opset block is missing).
const mil::Block& main_block(const SpecFile& file, std::string* opset = nullptr);

}  // namespace medport::coreml
