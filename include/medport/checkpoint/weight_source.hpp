#pragma once
// The one way model families read weights: a lazy source over a torch zip checkpoint, a legacy
// (pre-1.6) torch file or a safetensors file, modelled on llama.cpp's model loader.
//
//  - index():    every tensor's dotted name, dtype and shape, known after opening without reading
//                any tensor data (family detection works on this alone): the file is memory-mapped
//                and only its structure is parsed (the pickle and zip directory, or the
//                safetensors header);
//  - require():  a tensor by name, checked against the expected shape, converted to float32 when
//                stored as fp16/bf16/fp64 (a view of the file's bytes when already float32: the
//                bytes are memory-mapped or read on demand, never copied twice);
//  - optional(): the same when the tensor may be absent;
//  - leftovers: every name handed out is marked used; check_all_used() names the tensors a
//                family did not account for.
//
// A WeightSource may be narrowed to a sub-tree (`within("network_weights")`): names are then
// relative to it and a DataParallel "module." prefix below it is dropped. The narrowed source
// shares the file and the used-set with its parent.
//
// Torch files carry more than tensors (nnU-Net's init_args, timm's args Namespace): metadata()
// is the unpickled root object (inert values, nothing executed); safetensors files give their
// "__metadata__" strings as a dict instead.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "medport/checkpoint/value.hpp"
#include "medport/dtype.hpp"
#include "medport/tensor.hpp"

namespace medport::ckpt {

struct OpenOptions {
  // Start hashing the whole file (sha256()) on a background thread as soon as it is opened, so
  // that the hash is ready when a converter needs it; the thread stops early when the source is
  // destroyed first.
  bool hash_in_background = false;
  // verify_unread_data() on another background thread; its InputError surfaces from sha256(),
  // so the check costs no wall time while the graphs are built and written.
  bool verify_in_background = false;
};

struct WeightInfo {
  std::string name;   // dotted path relative to the source's root (after within())
  DType dtype = DType::F32;
  Shape shape;
};

class WeightSource {
 public:
  // Opens FILE; the format is decided from the content (torch zip, legacy torch, safetensors).
  // Throws InputError naming the file when it is none of them, damaged or hostile.
  static WeightSource open(const std::filesystem::path& path, const OpenOptions& options = {});
  // In-memory tensors by name (tests, tools, weights computed by medport); `name` stands for the
  // file in messages and metadata() returns `metadata` (an empty Dict when null).
  static WeightSource from_tensors(std::vector<std::pair<std::string, Tensor>> tensors, ValuePtr metadata,
                                   std::string name);
  // Names, dtypes and shapes without any data (a checkpoint already read by `inspect`, detection
  // tests): require()/raw() throw std::logic_error.
  static WeightSource index_only(std::vector<WeightInfo> index, ValuePtr metadata, std::string name);
  // An empty source (no tensors).
  WeightSource();

  WeightSource(WeightSource&&) noexcept;
  WeightSource& operator=(WeightSource&&) noexcept;
  WeightSource(const WeightSource&);  // shares the file and the used-set
  WeightSource& operator=(const WeightSource&);
  ~WeightSource();

  const std::filesystem::path& path() const;
  std::string_view format() const;  // "torch-zip" | "torch-legacy" | "safetensors" | "memory" | "index"
  // Hex SHA-256 of the whole file (computed once, on first use, or in the background when opened
  // with hash_in_background); "" for in-memory sources.
  const std::string& sha256() const;
  // Checks the integrity of data nothing else reads (a torch zip's stored entries against their
  // CRCs, optimizer state included): a damaged checkpoint is refused even where the damage lies
  // outside the weights. InputError naming the entry; nothing to check for other formats.
  void verify_unread_data() const;

  // Every tensor under the current root, in file order.
  const std::vector<WeightInfo>& index() const;
  bool contains(const std::string& name) const;
  const WeightInfo* info(const std::string& name) const;

  // A view of the sub-tree `prefix` ("network_weights", "state_dict", "" for the root); names
  // below it lose the prefix and a leading "module." (DDP). The root's own tensors outside the
  // sub-tree are not part of the view's index (nor of its leftover check).
  WeightSource within(std::string_view prefix) const;
  const std::string& root_prefix() const;  // "" or "network_weights." as passed to within()

  // The tensor `name`, float32, with exactly `shape` (InputError naming the file, the tensor,
  // the expected and the actual shape otherwise). Marks it used. A contiguous float32 tensor is
  // the file's bytes themselves (same memory, no copy; a zip record is checked against its CRC
  // first); fp16/bf16/fp64 are converted once. A damaged record is an InputError naming it.
  Tensor require(const std::string& name, const Shape& shape) const;
  // The same with whatever shape the file has (families that infer shapes from the weights).
  Tensor require(const std::string& name) const;
  // nullopt when absent; a present tensor of another shape is still an InputError.
  std::optional<Tensor> optional(const std::string& name, const Shape& shape) const;
  std::optional<Tensor> optional(const std::string& name) const;
  // The tensor in its stored dtype (integer buffers such as num_batches_tracked). Marks it used.
  Tensor raw(const std::string& name) const;

  // Marks tensors used without reading them (aliases a family checked by storage identity).
  void mark_used(const std::string& name) const;
  // Names in the current view's index never handed out or marked, in file order.
  std::vector<std::string> unused() const;
  // InputError naming the file and the first few unused tensors when there are any.
  void check_all_used(std::string_view family) const;
  // Tensors of the current view handed out or marked so far.
  std::size_t used_count() const;

  // True when the two names are views of the same bytes (same storage, offset, shape, strides),
  // e.g. nnU-Net's `.all_modules.N` aliases, without reading the data.
  bool same_data(const std::string& a, const std::string& b) const;
  // Elements of the current view's float tensors, each distinct storage region counted once.
  std::int64_t parameter_count() const;

  // Torch: the unpickled root object; safetensors: a Dict of its "__metadata__" strings.
  ValuePtr metadata() const;

 private:
  struct File;  // weight_source.cpp: the opened file, shared by views
  struct View;
  explicit WeightSource(std::shared_ptr<View> view);
  std::shared_ptr<View> view_;
};

}  // namespace medport::ckpt
