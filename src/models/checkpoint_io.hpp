#pragma once
// Checkpoint access shared by the model families: the unpickled root object of a torch
// checkpoint (tensors bound to their bytes) and the dotted path + shape of every tensor in it.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "medport/checkpoint/value.hpp"
#include "medport/models/detect_family.hpp"

namespace medport::models {

ckpt::ValuePtr read_checkpoint_root(std::shared_ptr<const std::vector<std::byte>> bytes, const std::string& source);
std::vector<TensorInfo> checkpoint_tensor_infos(const std::filesystem::path& path);

}  // namespace medport::models
