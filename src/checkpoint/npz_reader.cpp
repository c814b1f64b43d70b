#include <algorithm>
#include <unordered_set>

#include "medport/checkpoint/npy.hpp"
#include "medport/checkpoint/zip_archive.hpp"
#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::ckpt {
namespace {
constexpr std::string_view kSuffix = ".npy";
}

struct NpzFile::Impl {
  ZipArchive zip;
  std::vector<std::string> entries;  // zip entry of names_[i]
};

NpzFile::NpzFile(std::shared_ptr<const std::vector<std::byte>> bytes, std::string source)
    : impl_(std::make_unique<Impl>(Impl{ZipArchive(std::move(bytes), std::move(source)), {}})) {
  std::unordered_set<std::string> seen;
  for (const auto& entry : impl_->zip.entry_names()) {
    if (entry.size() <= kSuffix.size() || !entry.ends_with(kSuffix))
      throw InputError(impl_->zip.source(), "npz member '" + entry + "' is not a .npy array");
    std::string name = entry.substr(0, entry.size() - kSuffix.size());
    if (!seen.insert(name).second) throw InputError(impl_->zip.source(), "npz member '" + entry + "' appears twice");
    names_.push_back(std::move(name));
    impl_->entries.push_back(entry);
  }
}

NpzFile NpzFile::open(const std::filesystem::path& path) {
  auto bytes = std::make_shared<const std::vector<std::byte>>(read_file(path));
  return NpzFile(std::move(bytes), path.string());
}

NpzFile::~NpzFile() = default;
NpzFile::NpzFile(NpzFile&&) noexcept = default;
NpzFile& NpzFile::operator=(NpzFile&&) noexcept = default;

const std::string& NpzFile::source() const { return impl_->zip.source(); }

bool NpzFile::contains(const std::string& name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

Tensor NpzFile::read(const std::string& name) const {
  const auto it = std::find(names_.begin(), names_.end(), name);
  if (it == names_.end()) throw InputError(source(), "npz has no array named '" + name + "'");
  const std::string& entry = impl_->entries[static_cast<std::size_t>(it - names_.begin())];
  const auto bytes = impl_->zip.read(entry);
  return read_npy(bytes, source() + ":" + entry);
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
