// torch.save's zip format (torch >= 1.6): <prefix>/data.pkl, <prefix>/data/<key>, version, byteorder.
#include <map>

#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"
#include "torch_loader_internal.hpp"

namespace medport::ckpt::detail {

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// The folder holding data.pkl: the one-level "<prefix>/data.pkl" entry (or a bare "data.pkl").
std::string find_prefix(const ZipArchive& zip) {
  std::vector<std::string> candidates;
  for (const auto& name : zip.entry_names()) {
    if (name == "data.pkl") candidates.push_back("");
    else if (ends_with(name, "/data.pkl") && name.find('/') == name.size() - 9) candidates.push_back(name.substr(0, name.size() - 9));
  }
  if (candidates.empty())
    throw InputError(zip.source(), "zip archive without a data.pkl record: not a torch checkpoint");
  if (candidates.size() > 1)
    throw InputError(zip.source(), "zip archive holds several data.pkl records ('" + candidates[0] + "', '" +
                                       candidates[1] + "'); refusing the ambiguous checkpoint");
  return candidates.front();
}

void refuse_torchscript(const ZipArchive& zip, const std::string& prefix) {
  const std::string base = prefix.empty() ? "" : prefix + "/";
  for (const auto& name : zip.entry_names()) {
    if (name == base + "constants.pkl" || name.rfind(base + "code/", 0) == 0)
      throw InputError(zip.source(), "this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; "
                                     "medport reads state dicts: save model.state_dict() with torch.save instead");
  }
}

std::string small_record(const ZipArchive& zip, const std::string& name) {
  const auto v = zip.read(name, 64);
  return trim(std::string(reinterpret_cast<const char*>(v.data()), v.size()));
}

}  // namespace

void load_zip_checkpoint(TorchCheckpoint& out, const TorchLoadOptions& options) {
  const ZipArchive zip(out.file);
  const std::string prefix = find_prefix(zip);
  refuse_torchscript(zip, prefix);
  const std::string base = prefix.empty() ? "" : prefix + "/";
  out.archive_prefix = prefix;

  if (zip.contains(base + "version")) out.format_version = small_record(zip, base + "version");
  else if (zip.contains(base + ".data/version")) out.format_version = small_record(zip, base + ".data/version");
  bool big_endian = false;
  if (zip.contains(base + "byteorder")) {
    const std::string order = small_record(zip, base + "byteorder");
    if (order != "little" && order != "big")
      throw InputError(out.source, "unknown byteorder record '" + order.substr(0, 20) + "'");
    out.byteorder = order;
    big_endian = order == "big";
  }

  const ByteView pickle = zip.contents(base + "data.pkl", out.file->size() * 1100 + 1024);
  std::map<std::string, ValuePtr> storages;
  UnpickleOptions po;
  po.source = out.source;
  po.limits = options.limits;
  po.persistent_load = [&](const ValuePtr& pid) -> ValuePtr {
    const StorageSpec spec = parse_storage_pid(pid, out.source);
    if (auto it = storages.find(spec.key); it != storages.end()) {
      const auto& known = it->second->storage_data();
      if (known.dtype != spec.dtype || known.numel != spec.numel)
        throw InputError(out.source, "storage " + spec.key + " is referenced as both " + known.type_name + "(" +
                                         std::to_string(known.numel) + ") and " + spec.type_name + "(" +
                                         std::to_string(spec.numel) + ")");
      return it->second;
    }
    const std::string record = base + "data/" + spec.key;
    if (!zip.contains(record))
      throw InputError(out.source, "storage " + spec.key + " has no record '" + record + "' in the archive");
    const std::uint64_t present = zip.entry_size(record);
    const std::uint64_t claimed = storage_nbytes(spec.numel, spec.dtype, std::uint64_t{1} << 62, out.source, spec.key);
    if (claimed != present)
      throw InputError(out.source, "storage " + spec.key + " claims " + std::to_string(spec.numel) + " " +
                                       std::string(dtype_name(spec.dtype)) + " elements (" + std::to_string(claimed) +
                                       " bytes) but its record '" + record + "' holds " + std::to_string(present) +
                                       " bytes");
    StorageData s;
    s.key = spec.key;
    s.dtype = spec.dtype;
    s.type_name = spec.type_name;
    s.location = spec.location;
    s.numel = spec.numel;
    s.bytes = zip.storage(record, spec.dtype, spec.key, big_endian, !options.crc_checked_by_caller);
    auto v = Value::storage(std::move(s));
    storages.emplace(spec.key, v);
    return v;
  };
  auto result = unpickle(pickle.bytes, po);
  out.pickle_protocol = result.protocol;
  out.root = std::move(result.value);
}

}  // namespace medport::ckpt::detail
