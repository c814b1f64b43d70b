#pragma once
// PyTorch checkpoints (torch.save output) read without Python and without executing anything.
//
// The format is detected from the content, never from the extension:
//   - zip ("torch-zip", torch >= 1.6): <prefix>/data.pkl + <prefix>/data/<key> storages, any
//     prefix; `version` and `byteorder` records honoured (big-endian storages are byte-swapped).
//   - legacy ("torch-legacy", torch < 1.6): magic pickle, protocol 1001, sys_info, main pickle,
//     storage key list, then per storage an int64 element count and the raw bytes.
//   - a plain pickle ("pickle") of data without storages (e.g. nnU-Net v1 `.model.pkl`).
// Refused with an InputError naming the file: TorchScript archives, the legacy tar format, the
// "PYTORCH1" preview format, anything calling a non-allow-listed global (see pickle.hpp), storages
// whose claimed element count does not match their bytes, views reading past their storage.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "medport/checkpoint/file_bytes.hpp"
#include "medport/checkpoint/pickle.hpp"
#include "medport/checkpoint/value.hpp"
#include "medport/tensor.hpp"

namespace medport::ckpt {

struct TorchLoadOptions {
  PickleLimits limits;
  // Upper bound on the values visited while listing tensors: a sub-object shared by several
  // containers is visited (and its tensors listed) once per path, which a hostile file could
  // otherwise make exponential.
  std::size_t max_values_visited = 50'000'000;
  // Longest dotted path accepted for a container that may hold tensors.
  std::size_t max_path_bytes = 1 << 16;
  // Zip storages viewed in place skip their CRC check on first use because the caller checks
  // every entry itself (ZipArchive::verify_stored_entries, e.g. on a background thread) and
  // waits for that before trusting its output.
  bool crc_checked_by_caller = false;
  // A view may address more elements than its storage holds only through zero strides
  // (torch's expand); refused beyond this factor, so that materialising a tensor stays bounded.
  std::int64_t max_view_expansion = 1024;
};

// One tensor reachable from the root, by its dotted path: dict keys joined by ".", list/tuple
// indices as numbers ("network_weights.encoder.stages.0.0.convs.0.conv.weight").
struct TorchTensorEntry {
  std::string path;
  medport::Tensor tensor;   // a view of a shared medport::Storage, loaded on first use of its data
  std::string storage_key;  // the zip record "data/<key>" or the legacy storage key
  bool requires_grad = false;
  bool is_parameter = false;
};

struct TorchCheckpoint {
  std::string source;          // the path (or the name given with the bytes)
  std::shared_ptr<const FileBytes> file;  // the (mapped) bytes every storage views
  std::string format;          // "torch-zip" | "torch-legacy" | "pickle"
  std::string format_version;  // zip `version` record ("3"), legacy protocol ("1001"), "" for a pickle
  std::string archive_prefix;  // zip folder holding data.pkl ("archive", "checkpoint_final"), "" otherwise
  std::string byteorder = "little";  // byte order of the storages as stored
  int pickle_protocol = 0;     // of the main pickle
  ValuePtr root;
  std::vector<TorchTensorEntry> tensors;  // depth-first, in dict insertion / sequence order
  std::size_t storage_count = 0;          // distinct storages referenced by those tensors
  std::unordered_map<std::string, std::size_t> tensor_index;  // path -> position in `tensors`

  // The entry at `path`, or nullptr (the first one if two keys print alike, e.g. 1 and '1').
  const TorchTensorEntry* find(const std::string& path) const;
};

// Reads the structure (the pickles, the zip directory) and binds every tensor to its storage
// without reading any tensor data: storages are views of the memory-mapped file, checked (zip
// CRC), inflated or byte-swapped when their data is first used (Storage::data(), which then
// throws InputError for a damaged record). Every view is bounds-checked against its storage's
// size up front.
TorchCheckpoint load_torch_checkpoint(const std::filesystem::path& path, const TorchLoadOptions& options = {});
TorchCheckpoint load_torch_checkpoint(std::shared_ptr<const FileBytes> file, const TorchLoadOptions& options = {});
// The same from bytes already in memory (fuzzing, archives inside archives); `source` names them.
TorchCheckpoint load_torch_checkpoint_bytes(std::shared_ptr<const std::vector<std::byte>> bytes,
                                            const std::string& source, const TorchLoadOptions& options = {});

}  // namespace medport::ckpt
