#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_set>

#include "checkpoint/safetensors_dtype.hpp"
#include "medport/checkpoint/safetensors.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::ckpt {
namespace {

void validate(const NamedTensors& tensors, const std::string& target) {
  std::unordered_set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty()) throw InputError(target, "safetensors tensor names must not be empty");
    if (name == "__metadata__") throw InputError(target, "'__metadata__' is reserved and cannot name a tensor");
    if (!seen.insert(name).second) throw InputError(target, "safetensors tensor name '" + name + "' is used twice");
    if (!tensor.defined()) throw InputError(target, "safetensors tensor '" + name + "' is undefined");
  }
}

// The reference writer's layout: most aligned dtype first, then by name (byte order).
std::vector<std::size_t> layout_order(const NamedTensors& tensors) {
  std::vector<std::size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const int ra = safetensors::entry_of(tensors[a].second.dtype()).alignment_rank;
    const int rb = safetensors::entry_of(tensors[b].second.dtype()).alignment_rank;
    if (ra != rb) return ra > rb;
    return tensors[a].first < tensors[b].first;
  });
  return order;
}

std::vector<std::byte> serialize(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
                                 const std::string& target) {
  validate(tensors, target);
  const auto order = layout_order(tensors);
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const std::size_t i : order) {
    const auto& [name, tensor] = tensors[i];
    nlohmann::ordered_json info;
    info["dtype"] = safetensors::entry_of(tensor.dtype()).name;
    info["shape"] = tensor.shape();
    info["data_offsets"] = {offset, offset + tensor.nbytes()};
    header[name] = std::move(info);
    offset += tensor.nbytes();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(target, std::string("tensor names and metadata must be valid UTF-8: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  std::vector<std::byte> out;
  out.reserve(8 + text.size() + offset);
  const std::uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::byte>((length >> (8 * i)) & 0xff));
  const auto* t = reinterpret_cast<const std::byte*>(text.data());
  out.insert(out.end(), t, t + text.size());
  for (const std::size_t i : order) {
    const Tensor& tensor = tensors[i].second;
    if (tensor.is_contiguous()) {
      out.insert(out.end(), tensor.raw_data(), tensor.raw_data() + tensor.nbytes());
    } else {
      const auto bytes = tensor.contiguous_bytes();
      out.insert(out.end(), bytes.begin(), bytes.end());
    }
  }
  return out;
}

}  // namespace

std::vector<std::byte> write_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  return serialize(tensors, metadata, "");
}

void write_safetensors_file(const std::filesystem::path& path, const NamedTensors& tensors,
                            const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, serialize(tensors, metadata, path.string()));
}

}  // namespace medport::ckpt
