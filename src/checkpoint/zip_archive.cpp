#include "medport/checkpoint/zip_archive.hpp"

#include <zip.h>

#include <cstring>

#include "medport/error.hpp"
#include "medport/util/file_io.hpp"

namespace medport::ckpt {

struct ZipArchive::Handle {
  zip_t* archive = nullptr;
  ~Handle() {
    if (archive) zip_discard(archive);
  }
};


ZipArchive::ZipArchive(std::shared_ptr<const std::vector<std::byte>> bytes, std::string source)
    : bytes_(std::move(bytes)), source_(std::move(source)), handle_(std::make_unique<Handle>()) {
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* src = zip_source_buffer_create(bytes_->data(), bytes_->size(), 0, &err);
  if (!src) {
    const std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw InputError(source_, "cannot read as zip: " + why);
  }
  handle_->archive = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (!handle_->archive) {
    zip_source_free(src);
    const std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw InputError(source_, "not a valid zip archive (truncated or corrupt?): " + why);
  }
  zip_error_fini(&err);
  const zip_int64_t n = zip_get_num_entries(handle_->archive, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* name = zip_get_name(handle_->archive, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
    if (!name) throw InputError(source_, "zip entry " + std::to_string(i) + " has no readable name");
    names_.emplace_back(name);
  }
}

ZipArchive ZipArchive::open_file(const std::filesystem::path& path) {
  auto bytes = std::make_shared<const std::vector<std::byte>>(read_file(path));
  return ZipArchive(std::move(bytes), path.string());
}

ZipArchive::~ZipArchive() = default;
ZipArchive::ZipArchive(ZipArchive&&) noexcept = default;
ZipArchive& ZipArchive::operator=(ZipArchive&&) noexcept = default;

std::int64_t ZipArchive::index_of(const std::string& name) const {
  return zip_name_locate(handle_->archive, name.c_str(), ZIP_FL_ENC_RAW);
}

bool ZipArchive::contains(const std::string& name) const { return index_of(name) >= 0; }

std::uint64_t ZipArchive::entry_size(const std::string& name) const {
  const auto idx = index_of(name);
  if (idx < 0) throw InputError(source_, "zip entry '" + name + "' is missing");
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(handle_->archive, static_cast<zip_uint64_t>(idx), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    throw InputError(source_, "zip entry '" + name + "' has no readable size");
  return st.size;
}

std::vector<std::byte> ZipArchive::read(const std::string& name, std::uint64_t max_bytes) const {
  const std::uint64_t size = entry_size(name);
  if (size > max_bytes)
    throw InputError(source_, "zip entry '" + name + "' claims " + std::to_string(size) + " bytes, more than the " +
                                  std::to_string(max_bytes) + " allowed");
  // A stored entry cannot be larger than the archive; a compressed one at most ~1032x (deflate).
  if (size > bytes_->size() * std::uint64_t{1100} + 1024)
    throw InputError(source_, "zip entry '" + name + "' claims an impossible size of " + std::to_string(size) + " bytes");
  zip_file_t* f = zip_fopen_index(handle_->archive, static_cast<zip_uint64_t>(index_of(name)), 0);
  if (!f) throw InputError(source_, "cannot open zip entry '" + name + "': " + zip_strerror(handle_->archive));
  std::vector<std::byte> out(static_cast<std::size_t>(size));
  std::uint64_t got = 0;
  while (got < size) {
    const zip_int64_t n = zip_fread(f, out.data() + got, size - got);
    if (n < 0) {
      const std::string why = zip_file_strerror(f);
      zip_fclose(f);
      throw InputError(source_, "zip entry '" + name + "' is corrupt: " + why);
    }
    if (n == 0) break;
    got += static_cast<std::uint64_t>(n);
  }
  // Reading one byte past the end makes libzip verify the CRC of the whole entry.
  std::byte extra;
  const zip_int64_t tail = zip_fread(f, &extra, 1);
  const int close_status = zip_fclose(f);
  if (got != size || tail != 0 || close_status != 0)
    throw InputError(source_, "zip entry '" + name + "' is truncated or fails its CRC check");
  return out;
}

bool looks_like_zip(std::span<const std::byte> bytes) {
  if (bytes.size() < 4) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  return p[0] == 'P' && p[1] == 'K' && ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
}

}  // namespace medport::ckpt
