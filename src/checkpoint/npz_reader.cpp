#include <unordered_map>

#include "checkpoint/npy_format.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"

namespace medport::ckpt {
namespace {
constexpr std::string_view kSuffix = ".npy";
}

struct NpzFile::Impl {
  ZipArchive zip;
  std::vector<std::string> entries;  // zip entry of names_[i]
  std::unordered_map<std::string, std::size_t> by_name;  // names_[i] -> i
};

NpzFile::NpzFile(std::shared_ptr<const std::vector<std::byte>> bytes, std::string source)
    : NpzFile(ZipArchive(std::move(bytes), std::move(source))) {}

void NpzFile::list_members() {
  for (const auto& entry : impl_->zip.entry_names()) {
    if (entry.size() <= kSuffix.size() || !entry.ends_with(kSuffix))
      throw InputError(impl_->zip.source(), "npz member '" + entry + "' is not a .npy array");
    std::string name = entry.substr(0, entry.size() - kSuffix.size());
    if (!impl_->by_name.emplace(name, names_.size()).second)
      throw InputError(impl_->zip.source(), "npz member '" + entry + "' appears twice");
    names_.push_back(std::move(name));
    impl_->entries.push_back(entry);
  }
}

NpzFile::NpzFile(ZipArchive zip) : impl_(std::make_unique<Impl>(Impl{std::move(zip), {}, {}})) { list_members(); }

NpzFile NpzFile::open(const std::filesystem::path& path) { return NpzFile(ZipArchive::open_file(path)); }

NpzFile::~NpzFile() = default;
NpzFile::NpzFile(NpzFile&&) noexcept = default;
NpzFile& NpzFile::operator=(NpzFile&&) noexcept = default;

const std::string& NpzFile::source() const { return impl_->zip.source(); }

bool NpzFile::contains(const std::string& name) const { return impl_->by_name.count(name) != 0; }

const std::string& NpzFile::entry_of(const std::string& name) const {
  const auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end()) throw InputError(source(), "npz has no array named '" + name + "'");
  return impl_->entries[it->second];
}

Tensor NpzFile::read(const std::string& name) const {
  const std::string& entry = entry_of(name);
  const ByteView bytes = impl_->zip.contents(entry);
  return read_npy(bytes.bytes, source() + ":" + entry);
}

NpyInfo NpzFile::info(const std::string& name) const {
  const std::string& entry = entry_of(name);
  const std::string where = source() + ":" + entry;
  constexpr std::size_t kFixedPart = 12;  // magic, version and the widest length field
  auto head = impl_->zip.read_prefix(entry, kFixedPart);
  const std::size_t needed = npy::header_size(head);
  if (needed > head.size()) head = impl_->zip.read_prefix(entry, needed);
  const npy::Header h = npy::parse_header(head, impl_->zip.entry_size(entry), where);
  return {h.dtype, h.shape, h.fortran_order};
}

NamedTensors NpzFile::read_all() const {
  NamedTensors out;
  out.reserve(names_.size());
  for (const auto& name : names_) out.emplace_back(name, read(name));
  return out;
}

NamedTensors read_npz(const std::filesystem::path& path) { return NpzFile::open(path).read_all(); }

NamedTensors read_npz(std::shared_ptr<const std::vector<std::byte>> bytes, const std::string& source) {
  return NpzFile(std::move(bytes), source).read_all();
}

Tensor read_npz_member(const std::filesystem::path& path, const std::string& name) {
  return NpzFile::open(path).read(name);
}

}  // namespace medport::ckpt
