#pragma once
// safetensors files: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, "__metadata__": {...}}
// and the raw little-endian tensor bytes.
//
// Reading validates like the reference implementation: header at most 100 MB and starting
// with '{', known dtypes (F32 F64 F16 BF16 I64 I32 I16 I8 U16 U8 BOOL), offsets in range, in
// order without gaps or overlaps, each matching shape x item size, together covering the
// whole data buffer. Writing lays tensors out like the reference (descending dtype
// alignment, then name), pads the header with spaces to 8 bytes and writes atomically.
#include <cstddef>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "medport/checkpoint/file_bytes.hpp"
#include "medport/tensor.hpp"

namespace medport::ckpt {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
  NamedTensors tensors;                          // in data-offset order
  std::map<std::string, std::string> metadata;  // "__metadata__", empty when absent
};

// Tensors view `file` (no copy) where their bytes are aligned for their element type.
SafetensorsFile read_safetensors(std::shared_ptr<const FileBytes> file);
SafetensorsFile read_safetensors_file(const std::filesystem::path& path);  // memory-mapped
// From bytes the caller owns: copied once, then viewed.
SafetensorsFile read_safetensors(std::span<const std::byte> bytes, const std::string& source);

// Names must be unique, non-empty, valid UTF-8 and not "__metadata__". Empty metadata is
// left out of the header.
std::vector<std::byte> write_safetensors(const NamedTensors& tensors,
                                         const std::map<std::string, std::string>& metadata = {});
void write_safetensors_file(const std::filesystem::path& path, const NamedTensors& tensors,
                            const std::map<std::string, std::string>& metadata = {});

}  // namespace medport::ckpt
