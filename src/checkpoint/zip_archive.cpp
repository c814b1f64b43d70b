#include "medport/checkpoint/zip_archive.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <unordered_map>

#include "medport/error.hpp"
#include "byte_order.hpp"
#include "zip_directory.hpp"

namespace medport::ckpt {

namespace {

constexpr std::uint16_t kStored = 0;
constexpr std::uint16_t kDeflated = 8;
// Deflate cannot expand data more than about 1032:1; a larger claim is a lie.
constexpr std::uint64_t kMaxDeflateRatio = 1100;

std::uint32_t crc_of(std::span<const std::byte> bytes) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  return static_cast<std::uint32_t>(crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

// Raw-deflate inflation into `out` (exactly its size when `whole`, else at most its size).
// Returns the bytes produced; throws InputError on corrupt data or size mismatch.
std::size_t inflate_into(std::span<const std::byte> in, std::span<std::byte> out, bool whole, const std::string& source,
                         const std::string& name) {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw InputError(source, "zip entry '" + name + "': cannot start inflating");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  std::size_t in_at = 0, out_at = 0;
  int status = Z_OK;
  while (true) {
    const std::size_t in_chunk = std::min<std::size_t>(in.size() - in_at, UINT_MAX);
    const std::size_t out_chunk = std::min<std::size_t>(out.size() - out_at, UINT_MAX);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + in_at));
    z.avail_in = static_cast<uInt>(in_chunk);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + out_at);
    z.avail_out = static_cast<uInt>(out_chunk);
    status = inflate(&z, Z_NO_FLUSH);
    in_at += in_chunk - z.avail_in;
    out_at += out_chunk - z.avail_out;
    if (status == Z_STREAM_END) break;
    if (status != Z_OK && status != Z_BUF_ERROR)
      throw InputError(source, "zip entry '" + name + "' is corrupt: " + (z.msg ? z.msg : "inflate failed"));
    if (out_at == out.size()) {
      if (!whole) return out_at;
      // Full: the stream must end here, producing nothing more.
      std::byte extra;
      z.next_out = reinterpret_cast<Bytef*>(&extra);
      z.avail_out = 1;
      z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + in_at));
      z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - in_at, UINT_MAX));
      status = inflate(&z, Z_NO_FLUSH);
      if (status == Z_STREAM_END && z.avail_out == 1) break;
      throw InputError(source, "zip entry '" + name + "' decompresses to more than its recorded " +
                                   std::to_string(out.size()) + " bytes");
    }
    if (status == Z_BUF_ERROR || in_at == in.size())
      throw InputError(source, "zip entry '" + name + "' is truncated: its data ends after " + std::to_string(out_at) +
                                   " of " + std::to_string(out.size()) + " bytes");
  }
  if (whole && out_at != out.size())
    throw InputError(source, "zip entry '" + name + "' decompresses to " + std::to_string(out_at) +
                                 " bytes, not its recorded " + std::to_string(out.size()));
  return out_at;
}

void check_readable(const ZipEntry& e, std::uint64_t max_bytes, const std::string& source) {
  if (e.encrypted) throw InputError(source, "zip entry '" + e.name + "' is encrypted");
  if (e.method != kStored && e.method != kDeflated)
    throw InputError(source, "zip entry '" + e.name + "' uses compression method " + std::to_string(e.method) +
                                 "; only stored and deflated entries are supported");
  if (e.size > max_bytes)
    throw InputError(source, "zip entry '" + e.name + "' claims " + std::to_string(e.size) + " bytes, more than the " +
                                 std::to_string(max_bytes) + " allowed");
  if (e.method == kDeflated && e.size > e.compressed_size * kMaxDeflateRatio + 1024)
    throw InputError(source, "zip entry '" + e.name + "' claims an impossible size of " + std::to_string(e.size) +
                                 " bytes for " + std::to_string(e.compressed_size) + " compressed");
}

std::span<const std::byte> raw_data(const FileBytes& file, const ZipEntry& e) {
  return file.bytes().subspan(static_cast<std::size_t>(e.data_offset), static_cast<std::size_t>(e.compressed_size));
}

void verify_crc(const ZipEntry& e, std::span<const std::byte> data, const std::string& source) {
  if (crc_of(data) != e.crc32) throw InputError(source, "zip entry '" + e.name + "' fails its CRC check (corrupt)");
}

// A stored entry in place, checked against its CRC.
ByteView stored_view(const FileBytes& file, const ZipEntry& e) {
  ByteView v = file.view(e.data_offset, e.size);
  verify_crc(e, v.bytes, file.source());
  return v;
}

// The entry in a buffer of its own (inflated or copied), checked against its CRC.
std::shared_ptr<std::vector<std::byte>> owned_copy(const FileBytes& file, const ZipEntry& e) {
  if (e.method == kStored) {
    const ByteView v = stored_view(file, e);
    auto out = std::make_shared<std::vector<std::byte>>(v.bytes.begin(), v.bytes.end());
    v.release_pages();
    return out;
  }
  auto out = std::make_shared<std::vector<std::byte>>(static_cast<std::size_t>(e.size));
  inflate_into(raw_data(file, e), *out, true, file.source(), e.name);
  verify_crc(e, *out, file.source());
  return out;
}

ByteView as_view(std::shared_ptr<std::vector<std::byte>> owned) {
  const std::span<const std::byte> bytes(*owned);
  return {bytes, std::move(owned), false};
}

}  // namespace

struct ZipArchive::Impl {
  std::shared_ptr<const FileBytes> file;
  std::vector<ZipEntry> entries;
  std::vector<std::string> names;
  std::unordered_map<std::string, std::size_t> by_name;
};

ZipArchive::ZipArchive(std::shared_ptr<const FileBytes> file) : impl_(std::make_unique<Impl>()) {
  impl_->file = std::move(file);
  impl_->entries = detail::read_zip_directory(impl_->file->bytes(), impl_->file->source());
  impl_->names.reserve(impl_->entries.size());
  for (std::size_t i = 0; i < impl_->entries.size(); ++i) {
    impl_->names.push_back(impl_->entries[i].name);
    impl_->by_name.emplace(impl_->entries[i].name, i);
  }
}

ZipArchive::ZipArchive(std::shared_ptr<const std::vector<std::byte>> bytes, std::string source)
    : ZipArchive(FileBytes::in_memory(std::move(bytes), std::move(source))) {}

ZipArchive ZipArchive::open_file(const std::filesystem::path& path) { return ZipArchive(FileBytes::map(path)); }

ZipArchive::~ZipArchive() = default;
ZipArchive::ZipArchive(ZipArchive&&) noexcept = default;
ZipArchive& ZipArchive::operator=(ZipArchive&&) noexcept = default;

const std::string& ZipArchive::source() const { return impl_->file->source(); }
const std::shared_ptr<const FileBytes>& ZipArchive::file() const { return impl_->file; }
const std::vector<std::string>& ZipArchive::entry_names() const { return impl_->names; }
bool ZipArchive::contains(const std::string& name) const { return impl_->by_name.count(name) != 0; }

const ZipEntry& ZipArchive::entry(const std::string& name) const {
  const auto it = impl_->by_name.find(name);
  if (it == impl_->by_name.end()) throw InputError(source(), "zip entry '" + name + "' is missing");
  return impl_->entries[it->second];
}

std::uint64_t ZipArchive::entry_size(const std::string& name) const { return entry(name).size; }

ByteView ZipArchive::contents(const std::string& name, std::uint64_t max_bytes) const {
  const ZipEntry& e = entry(name);
  check_readable(e, max_bytes, source());
  return e.method == kStored ? stored_view(*impl_->file, e) : as_view(owned_copy(*impl_->file, e));
}

void ZipArchive::verify_stored_entries() const {
  for (const ZipEntry& e : impl_->entries) {
    if (e.method != kStored || e.encrypted) continue;
    if (e.size != e.compressed_size)
      throw InputError(source(), "zip entry '" + e.name + "' is stored but claims " + std::to_string(e.size) + " bytes for " +
                                     std::to_string(e.compressed_size));
    stored_view(*impl_->file, e).release_pages();
  }
}

std::vector<std::byte> ZipArchive::read(const std::string& name, std::uint64_t max_bytes) const {
  const ZipEntry& e = entry(name);
  check_readable(e, max_bytes, source());
  return std::move(*owned_copy(*impl_->file, e));
}

std::vector<std::byte> ZipArchive::read_prefix(const std::string& name, std::size_t length) const {
  const ZipEntry& e = entry(name);
  check_readable(e, std::uint64_t{1} << 62, source());
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(length, e.size));
  std::vector<std::byte> out(n);
  if (e.method == kStored) {
    if (n) std::memcpy(out.data(), raw_data(*impl_->file, e).data(), n);
    return out;
  }
  out.resize(inflate_into(raw_data(*impl_->file, e), out, n == e.size, source(), e.name));
  return out;
}

std::shared_ptr<const Storage> ZipArchive::storage(const std::string& name, DType dtype, std::string key,
                                                   bool swap_bytes, bool check_crc) const {
  const ZipEntry& e = entry(name);
  const std::size_t esize = dtype_size(dtype);
  if (e.size % esize != 0)
    throw InputError(source(), "zip entry '" + name + "' holds " + std::to_string(e.size) + " bytes, not a whole number of " +
                                   std::string(dtype_name(dtype)) + " elements");
  check_readable(e, std::uint64_t{1} << 62, source());
  const auto address = reinterpret_cast<std::uintptr_t>(impl_->file->bytes().data()) + e.data_offset;
  const bool in_place = e.method == kStored && !swap_bytes && address % esize == 0;
  auto loader = [file = impl_->file, e, esize, in_place, swap_bytes, check_crc]() -> ByteView {
    if (in_place && !check_crc) return file->view(e.data_offset, e.size);
    if (in_place) {
      ByteView v = stored_view(*file, e);
      v.release_pages();  // checked; mapped again when the weights are used
      return v;
    }
    auto owned = owned_copy(*file, e);
    if (swap_bytes) detail::swap_element_bytes(*owned, esize);
    return as_view(std::move(owned));
  };
  return std::make_shared<const Storage>(dtype, static_cast<std::size_t>(e.size), std::move(loader), std::move(key));
}

bool looks_like_zip(std::span<const std::byte> bytes) {
  if (bytes.size() < 4) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  return p[0] == 'P' && p[1] == 'K' && ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
}

}  // namespace medport::ckpt
