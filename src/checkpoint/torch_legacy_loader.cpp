// torch.save's pre-1.6 format: pickles back to back, then the raw storages.
//   magic number | protocol version (1001) | sys_info | main pickle | storage key list |
//   per key, in the list's order: int64 element count + element bytes.
#include <cstring>
#include <map>
#include <unordered_map>

#include "byte_order.hpp"
#include "medport/error.hpp"
#include "torch_loader_internal.hpp"

namespace medport::ckpt::detail {

namespace {

constexpr std::int64_t kLegacyProtocolVersion = 1001;

struct LegacyView {
  ValuePtr view;       // Storage value handed to the pickle
  std::string base;    // key of the storage it slices
  std::int64_t offset = 0;
  std::int64_t numel = 0;
};

// A storage's bytes where they lie in the file: a view when they can be used in place, else a
// copy made (and byte-swapped) on first use.
std::shared_ptr<const Storage> storage_at(const std::shared_ptr<const FileBytes>& file, std::size_t pos,
                                          std::uint64_t nbytes, DType dtype, const std::string& key, bool big_endian) {
  const std::size_t esize = dtype_size(dtype);
  const auto address = reinterpret_cast<std::uintptr_t>(file->bytes().data()) + pos;
  if (!big_endian && address % esize == 0) return std::make_shared<const Storage>(dtype, file->view(pos, nbytes), key);
  return std::make_shared<const Storage>(dtype, static_cast<std::size_t>(nbytes), [file, pos, nbytes, esize, big_endian] {
    const ByteView in_file = file->view(pos, nbytes);
    auto owned = std::make_shared<std::vector<std::byte>>(in_file.bytes.begin(), in_file.bytes.end());
    in_file.release_pages();
    if (big_endian) swap_element_bytes(*owned, esize);
    const std::span<const std::byte> bytes(*owned);
    return ByteView{bytes, std::move(owned), false};
  }, key);
}

}  // namespace

void load_legacy_checkpoint(TorchCheckpoint& out, std::size_t after_magic, const TorchLoadOptions& options) {
  const std::span<const std::byte> data = out.file->bytes();
  std::size_t pos = after_magic;
  UnpickleOptions plain;
  plain.source = out.source;
  plain.limits = options.limits;

  auto next_pickle = [&](const UnpickleOptions& o) {
    if (pos >= data.size()) throw InputError(out.source, "legacy checkpoint ends after " + std::to_string(pos) + " bytes (truncated file?)");
    auto r = unpickle(data.subspan(pos), o);
    pos += r.consumed;
    return r;
  };

  const auto protocol = next_pickle(plain).value;
  if (!protocol->is(ValueKind::Int) || protocol->as_int() != kLegacyProtocolVersion)
    throw InputError(out.source, "unsupported legacy checkpoint protocol " + protocol->repr(40) + " (expected 1001)");
  out.format_version = std::to_string(kLegacyProtocolVersion);

  const auto sys_info = next_pickle(plain).value;
  bool little_endian = true;
  if (sys_info->is(ValueKind::Dict)) {
    if (auto le = sys_info->get("little_endian"); le && le->is(ValueKind::Bool)) little_endian = le->as_bool();
  }
  out.byteorder = little_endian ? "little" : "big";

  std::map<std::string, ValuePtr> storages;
  std::vector<LegacyView> views;
  std::unordered_map<std::string, std::size_t> view_index;  // view key -> position in views
  UnpickleOptions main = plain;
  main.persistent_load = [&](const ValuePtr& pid) -> ValuePtr {
    const StorageSpec spec = parse_storage_pid(pid, out.source);
    auto root_it = storages.find(spec.key);
    if (root_it == storages.end()) {
      StorageData s;
      s.key = spec.key;
      s.dtype = spec.dtype;
      s.type_name = spec.type_name;
      s.location = spec.location;
      s.numel = spec.numel;
      root_it = storages.emplace(spec.key, Value::storage(std::move(s))).first;
    } else if (root_it->second->storage_data().dtype != spec.dtype) {
      throw InputError(out.source, "storage " + spec.key + " is referenced with two different element types");
    }
    if (!spec.view_metadata || spec.view_metadata->is_none()) return root_it->second;
    // (view_key, offset, size): a slice of the root storage, in elements.
    const auto& vm = spec.view_metadata;
    if (!vm->is(ValueKind::Tuple) || vm->items().size() != 3 || !vm->items()[0]->is(ValueKind::Str) ||
        !vm->items()[1]->is(ValueKind::Int) || !vm->items()[2]->is(ValueKind::Int))
      throw InputError(out.source, "invalid storage view metadata " + vm->repr(60));
    const std::string view_key = vm->items()[0]->as_str();
    if (auto known = view_index.find(view_key); known != view_index.end()) return views[known->second].view;
    LegacyView v;
    v.base = spec.key;
    v.offset = vm->items()[1]->as_int();
    v.numel = vm->items()[2]->as_int();
    if (v.offset < 0 || v.numel < 0 || v.offset > spec.numel || v.numel > spec.numel - v.offset)
      throw InputError(out.source, "storage view " + view_key + " lies outside storage " + spec.key);
    StorageData s;
    s.key = view_key;
    s.dtype = spec.dtype;
    s.type_name = spec.type_name;
    s.location = spec.location;
    s.numel = v.numel;
    v.view = Value::storage(std::move(s));
    view_index.emplace(view_key, views.size());
    views.push_back(v);
    return v.view;
  };
  auto main_result = next_pickle(main);
  out.pickle_protocol = main_result.protocol;
  out.root = std::move(main_result.value);

  const auto keys = next_pickle(plain).value;
  if (!keys->is(ValueKind::List)) throw InputError(out.source, "legacy checkpoint: the storage key list is a " + keys->type_name());
  for (const auto& key_value : keys->items()) {
    if (!key_value->is(ValueKind::Str)) throw InputError(out.source, "legacy checkpoint: a storage key is a " + key_value->type_name());
    const std::string& key = key_value->as_str();
    auto it = storages.find(key);
    if (it == storages.end())
      throw InputError(out.source, "legacy checkpoint lists storage " + key + " that no tensor refers to");
    auto& s = it->second->mutable_storage_data();
    if (s.bytes) throw InputError(out.source, "legacy checkpoint lists storage " + key + " twice");
    if (data.size() - pos < 8)
      throw InputError(out.source, "legacy checkpoint ends inside the size of storage " + key + " (truncated file?)");
    std::uint64_t count = 0;
    for (int i = 0; i < 8; ++i) {
      const auto b = static_cast<std::uint64_t>(static_cast<unsigned char>(data[pos + static_cast<std::size_t>(little_endian ? i : 7 - i)]));
      count |= b << (8 * i);
    }
    pos += 8;
    if (count > static_cast<std::uint64_t>(INT64_MAX) || static_cast<std::int64_t>(count) != s.numel)
      throw InputError(out.source, "storage " + key + " records " + std::to_string(count) + " elements but the pickle claims " +
                                       std::to_string(s.numel));
    const std::uint64_t nbytes = storage_nbytes(s.numel, s.dtype, std::uint64_t{1} << 62, out.source, key);
    if (nbytes > data.size() - pos)
      throw InputError(out.source, "storage " + key + " claims " + std::to_string(s.numel) + " " +
                                       std::string(dtype_name(s.dtype)) + " elements (" + std::to_string(nbytes) +
                                       " bytes) but only " + std::to_string(data.size() - pos) + " bytes remain");
    s.bytes = storage_at(out.file, pos, nbytes, s.dtype, key, !little_endian);
    pos += static_cast<std::size_t>(nbytes);
  }
  for (auto& v : views) {
    const auto base = storages.at(v.base)->storage_data().bytes;
    if (!base) continue;  // reported when a tensor uses it
    const std::size_t esize = dtype_size(base->dtype());
    const auto offset = static_cast<std::size_t>(v.offset) * esize, length = static_cast<std::size_t>(v.numel) * esize;
    auto& view = v.view->mutable_storage_data();
    view.bytes = std::make_shared<const Storage>(base->dtype(), length, [base, offset, length] { return base->view(offset, length); },
                                                 view.key);
  }
}

}  // namespace medport::ckpt::detail
