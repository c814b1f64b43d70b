// Format detection for torch.save output, and the walk that lists every reachable tensor.
#include "medport/checkpoint/torch_checkpoint.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"
#include "pickle_internal.hpp"
#include "torch_loader_internal.hpp"

namespace medport::ckpt {

const TorchTensorEntry* TorchCheckpoint::find(const std::string& path) const {
  const auto it = tensor_index.find(path);
  return it == tensor_index.end() ? nullptr : &tensors[it->second];
}

namespace detail {

StorageSpec parse_storage_pid(const ValuePtr& pid, const std::string& source) {
  auto bad = [&](const std::string& why) -> InputError {
    return InputError(source, "unsupported persistent id " + pid->repr(80) + ": " + why);
  };
  if (!pid->is(ValueKind::Tuple) || pid->items().size() < 5) throw bad("expected ('storage', type, key, location, numel)");
  const auto& a = pid->items();
  if (!a[0]->is(ValueKind::Str) || a[0]->as_str() != "storage") throw bad("only storages are supported");
  if (!a[1]->is(ValueKind::Global)) throw bad("the storage type is not a class");
  const auto dtype = storage_class_dtype(a[1]->global_ref());
  if (!dtype) throw InputError(source, "storage type " + a[1]->global_ref().qualified() + " is not a supported torch storage class");
  StorageSpec s;
  s.dtype = *dtype;
  s.type_name = a[1]->global_ref().name;
  if (a[2]->is(ValueKind::Str)) s.key = a[2]->as_str();
  else if (a[2]->is(ValueKind::Int)) s.key = std::to_string(a[2]->as_int());
  else throw bad("the storage key must be a str");
  if (!a[3]->is(ValueKind::Str)) throw bad("the location must be a str");
  s.location = a[3]->as_str();
  if (!a[4]->is(ValueKind::Int) || a[4]->as_int() < 0) throw bad("the element count must be a non-negative int");
  s.numel = a[4]->as_int();
  if (a.size() > 5) s.view_metadata = a[5];
  if (a.size() > 6) throw bad("too many fields");
  if (s.key.empty() || s.key.find('/') != std::string::npos || s.key.find("..") != std::string::npos)
    throw bad("invalid storage key");
  return s;
}

std::uint64_t storage_nbytes(std::int64_t numel, DType dtype, std::uint64_t limit, const std::string& source,
                             const std::string& key) {
  const auto n = static_cast<unsigned __int128>(numel) * dtype_size(dtype);
  if (numel < 0 || n > limit)
    throw InputError(source, "storage " + key + " claims " + std::to_string(numel) + " " + std::string(dtype_name(dtype)) +
                                 " elements, more bytes than any file can hold");
  return static_cast<std::uint64_t>(n);
}

namespace {

void bind_tensor(Value& v, const std::string& path, const std::string& source, const TorchLoadOptions& options) {
  auto& t = v.mutable_tensor_data();
  if (t.tensor.defined()) return;
  const auto& s = t.storage->storage_data();
  if (!s.bytes)
    throw InputError(source, "tensor '" + path + "' refers to storage " + s.key + ", whose bytes are missing");
  try {
    t.tensor = medport::Tensor(s.bytes, t.offset, t.shape, t.strides);
  } catch (const std::exception& e) {
    throw InputError(source, "tensor '" + path + "' (storage " + s.key + "): " + e.what());
  }
  const auto limit = static_cast<__int128>(std::max<std::int64_t>(s.bytes->numel(), 1)) * options.max_view_expansion;
  if (t.tensor.numel() > limit)
    throw InputError(source, "tensor '" + path + "' views " + std::to_string(t.tensor.numel()) + " elements of a storage of " +
                                 std::to_string(s.bytes->numel()) + " (expanded more than " +
                                 std::to_string(options.max_view_expansion) + "x); refusing it");
}

bool may_hold_tensors(const Value& v) {
  switch (v.kind()) {
    case ValueKind::List: case ValueKind::Tuple: case ValueKind::Dict: case ValueKind::Set:
    case ValueKind::FrozenSet: case ValueKind::Object: case ValueKind::Tensor:
      return true;
    default: return false;
  }
}

std::string join(const std::string& prefix, const std::string& part) {
  return prefix.empty() ? part : prefix + "." + part;
}

}  // namespace

void collect_tensors(TorchCheckpoint& out, const TorchLoadOptions& options) {
  struct Pending {
    Value* value;
    std::string path;
  };
  std::vector<Pending> stack{{out.root.get(), ""}};
  std::unordered_set<std::string> storage_keys;
  std::size_t visited = 0;
  while (!stack.empty()) {
    Pending cur = std::move(stack.back());
    stack.pop_back();
    visited += 1 + cur.value->size();  // the entries scanned below count too
    if (visited > options.max_values_visited)
      throw InputError(out.source, "the checkpoint shares sub-objects so often that listing its tensors would visit more than " +
                                       std::to_string(options.max_values_visited) + " values; refusing it");
    Value& v = *cur.value;
    std::vector<Pending> children;
    auto add = [&](const ValuePtr& child, const std::string& part) {
      if (!child || !may_hold_tensors(*child)) return;
      if (cur.path.size() + part.size() + 1 > options.max_path_bytes)
        throw InputError(out.source, "a path inside the checkpoint is longer than " +
                                         std::to_string(options.max_path_bytes) + " characters; refusing it");
      children.push_back({child.get(), join(cur.path, part)});
    };
    switch (v.kind()) {
      case ValueKind::Tensor: {
        bind_tensor(v, cur.path, out.source, options);
        const auto& t = v.tensor_data();
        const auto& key = t.storage->storage_data().key;
        storage_keys.insert(key);
        out.tensor_index.emplace(cur.path, out.tensors.size());
        out.tensors.push_back({cur.path, t.tensor, key, t.requires_grad, t.is_parameter});
        break;
      }
      case ValueKind::Dict:
        for (const auto& [k, val] : v.dict_data().entries)
          if (val && may_hold_tensors(*val)) add(val, key_to_path_part(*k));
        break;
      case ValueKind::List: case ValueKind::Tuple: case ValueKind::Set: case ValueKind::FrozenSet: {
        const auto& items = v.items();
        for (std::size_t i = 0; i < items.size(); ++i)
          if (may_hold_tensors(*items[i])) add(items[i], std::to_string(i));
        break;
      }
      case ValueKind::Object: {
        // An inert record's attributes (its BUILD state) are where its tensors would be.
        const auto& o = v.object_data();
        if (o.state && o.state->is(ValueKind::Dict)) {
          for (const auto& [k, val] : o.state->dict_data().entries)
            if (val && may_hold_tensors(*val)) add(val, key_to_path_part(*k));
        } else if (o.state) {
          add(o.state, "__state__");
        }
        break;
      }
      default: break;
    }
    for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back(std::move(*it));
  }
  out.storage_count = storage_keys.size();
}

}  // namespace detail

namespace {

using namespace std::string_view_literals;

// Files users confuse with checkpoints, by their signature: named instead of reported as a pickle
// opcode error.
const char* known_other_format(std::span<const std::byte> data) {
  const auto starts = [&](std::string_view magic, std::size_t at = 0) {
    if (data.size() < at + magic.size()) return false;
    return std::memcmp(data.data() + at, magic.data(), magic.size()) == 0;
  };
  if (starts("\x89PNG")) return "a PNG image";
  if (starts("\xFF\xD8\xFF")) return "a JPEG image";
  if (starts("II*\0"sv) || starts("MM\0*"sv)) return "a TIFF image";
  if (starts("\x1F\x8B")) return "a gzip file (a .nii.gz image?)";
  if (starts("\x93NUMPY")) return "a NumPy .npy array";
  if (starts("DICM", 128)) return "a DICOM file";
  if (starts("\x5C\x01\0\0"sv) && starts("n+1\0"sv, 344)) return "a NIfTI image";
  return nullptr;
}

bool starts_with(std::span<const std::byte> b, std::string_view s) {
  return b.size() >= s.size() && std::memcmp(b.data(), s.data(), s.size()) == 0;
}

bool looks_like_tar(std::span<const std::byte> b) {
  return b.size() >= 262 && std::memcmp(b.data() + 257, "ustar", 5) == 0;
}

// 0x1950a86a20f9469cfc6c, torch/serialization.py MAGIC_NUMBER, as the pickle holds it.
constexpr std::string_view kLegacyMagic = "119547037146038801333356";

}  // namespace

TorchCheckpoint load_torch_checkpoint(std::shared_ptr<const FileBytes> file, const TorchLoadOptions& options) {
  TorchCheckpoint out;
  out.source = file->source();
  out.file = std::move(file);
  const std::string& source = out.source;
  const std::span<const std::byte> data = out.file->bytes();
  if (data.empty()) throw InputError(source, "empty file");
  if (looks_like_zip(data)) {
    out.format = "torch-zip";
    detail::load_zip_checkpoint(out, options);
  } else if (starts_with(data, "PYTORCH1")) {
    throw InputError(source, "the 'PYTORCH1' preview format is not supported; re-save the checkpoint with torch.save");
  } else if (looks_like_tar(data)) {
    throw InputError(source, "unsupported legacy tar checkpoint (torch before 0.4); load and re-save it with torch.save");
  } else if (const char* kind = known_other_format(data)) {
    throw InputError(source, std::string("not a torch checkpoint: this is ") + kind);
  } else {
    UnpickleOptions first;
    first.source = source;
    first.limits = options.limits;
    UnpickleResult head;
    try {
      head = unpickle(data, first);
    } catch (const InputError& e) {
      // Failing on the very first byte means this is no pickle at all.
      // torch.save writes pickle protocol 2 or later, which opens with PROTO (0x80); anything else
      // that fails right away is no pickle either.
      const bool opens_like_torch = static_cast<unsigned char>(data[0]) == 0x80;
      if (std::string_view(e.what()).find(" at byte 0: ") != std::string_view::npos ||
          (!opens_like_torch && std::string_view(e.what()).find(" at byte 1: ") != std::string_view::npos))
        throw InputError(source, "not a torch checkpoint: neither a zip archive nor a pickle");
      throw;
    }
    if (head.value->is(ValueKind::BigInt) && head.value->big_int_text() == kLegacyMagic) {
      out.format = "torch-legacy";
      detail::load_legacy_checkpoint(out, head.consumed, options);
    } else {
      out.format = "pickle";
      out.pickle_protocol = head.protocol;
      out.root = std::move(head.value);
    }
  }
  detail::collect_tensors(out, options);
  return out;
}

TorchCheckpoint load_torch_checkpoint_bytes(std::shared_ptr<const std::vector<std::byte>> bytes,
                                            const std::string& source, const TorchLoadOptions& options) {
  if (bytes && bytes->empty()) throw InputError(source, "empty file");
  return load_torch_checkpoint(FileBytes::in_memory(std::move(bytes), source), options);
}

TorchCheckpoint load_torch_checkpoint(const std::filesystem::path& path, const TorchLoadOptions& options) {
  return load_torch_checkpoint(FileBytes::map(path), options);
}

}  // namespace medport::ckpt
