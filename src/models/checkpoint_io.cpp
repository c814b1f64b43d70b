#include "models/checkpoint_io.hpp"

#include "medport/checkpoint/torch_checkpoint.hpp"

namespace medport::models {

ckpt::ValuePtr read_checkpoint_root(std::shared_ptr<const std::vector<std::byte>> bytes, const std::string& source) {
  return ckpt::load_torch_checkpoint_bytes(std::move(bytes), source).root;
}

std::vector<TensorInfo> checkpoint_tensor_infos(const std::filesystem::path& path) {
  const auto checkpoint = ckpt::load_torch_checkpoint(path);
  std::vector<TensorInfo> out;
  out.reserve(checkpoint.tensors.size());
  for (const auto& t : checkpoint.tensors) out.push_back({t.path, t.tensor.shape()});
  return out;
}

}  // namespace medport::models
