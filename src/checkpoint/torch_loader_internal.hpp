#pragma once
// Shared by the torch zip and legacy loaders (not a public header).
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "medport/checkpoint/file_bytes.hpp"
#include "medport/checkpoint/torch_checkpoint.hpp"

namespace medport::ckpt::detail {

// A persistent id ('storage', <storage class>, key, location, numel[, view_metadata]).
struct StorageSpec {
  std::string key;
  DType dtype = DType::U8;
  std::string type_name;
  std::string location;
  std::int64_t numel = 0;
  ValuePtr view_metadata;  // legacy only: None or (view_key, offset, size)
};
StorageSpec parse_storage_pid(const ValuePtr& pid, const std::string& source);

// Bytes of `numel` elements of `dtype`, or an InputError when that overflows or exceeds `limit`.
std::uint64_t storage_nbytes(std::int64_t numel, DType dtype, std::uint64_t limit, const std::string& source,
                             const std::string& key);

// Both loaders leave every storage lazy (Storage::loaded() false until its data is used): a zip
// record is viewed in place or inflated on first use, a legacy storage viewed where it lies.
void load_zip_checkpoint(TorchCheckpoint& out, const TorchLoadOptions& options);
// `after_magic`: the end of the file's first pickle, already read and recognised as the magic.
void load_legacy_checkpoint(TorchCheckpoint& out, std::size_t after_magic, const TorchLoadOptions& options);
// Walks out.root, binds every tensor to its storage bytes (bounds-checked) and lists them.
void collect_tensors(TorchCheckpoint& out, const TorchLoadOptions& options);

}  // namespace medport::ckpt::detail
