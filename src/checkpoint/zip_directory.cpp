// The zip central directory (APPNOTE.TXT 4.3): end record, ZIP64 end record and locator, central
// file headers with their ZIP64 extra field, local file headers. Every offset and length read
// from the archive is checked against its size before use.
#include "zip_directory.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_set>

#include "medport/error.hpp"

namespace medport::ckpt::detail {
namespace {

constexpr std::uint32_t kLocalHeader = 0x04034b50;
constexpr std::uint32_t kCentralHeader = 0x02014b50;
constexpr std::uint32_t kEndRecord = 0x06054b50;
constexpr std::uint32_t kZip64EndRecord = 0x06064b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::size_t kEndRecordSize = 22;
constexpr std::size_t kLocatorSize = 20;
constexpr std::size_t kZip64EndRecordSize = 56;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::uint32_t kSaturated32 = 0xffffffff;
constexpr std::uint16_t kSaturated16 = 0xffff;

// Little-endian fields of a byte range whose bounds the caller has checked.
class Fields {
 public:
  Fields(std::span<const std::byte> bytes, std::uint64_t at) : p_(bytes.data() + at) {}
  std::uint64_t u(std::size_t offset, std::size_t width) const {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v |= static_cast<std::uint64_t>(p_[offset + i]) << (8 * i);
    return v;
  }
  std::uint16_t u16(std::size_t offset) const { return static_cast<std::uint16_t>(u(offset, 2)); }
  std::uint32_t u32(std::size_t offset) const { return static_cast<std::uint32_t>(u(offset, 4)); }
  std::uint64_t u64(std::size_t offset) const { return u(offset, 8); }

 private:
  const std::byte* p_;
};

bool fits(std::uint64_t size, std::uint64_t offset, std::uint64_t length) {
  return offset <= size && length <= size - offset;
}

struct Directory {
  std::uint64_t entries = 0;
  std::uint64_t offset = 0;  // of the central directory
  std::uint64_t size = 0;
  std::uint64_t end = 0;     // where the end records begin: the directory must lie before
};

class Reader {
 public:
  Reader(std::span<const std::byte> bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  std::vector<ZipEntry> entries() {
    const Directory dir = directory();
    std::vector<ZipEntry> out;
    out.reserve(static_cast<std::size_t>(dir.entries));
    std::uint64_t at = dir.offset;
    const std::uint64_t dir_end = dir.offset + dir.size;
    for (std::uint64_t i = 0; i < dir.entries; ++i) out.push_back(central_header(at, dir_end, i));
    if (at != dir_end)
      fail("the central directory holds " + std::to_string(dir_end - at) + " bytes after its last entry (corrupt?)");
    std::unordered_set<std::string_view> names;
    for (auto& e : out) {
      local_header(e, dir.offset);
      if (!names.insert(e.name).second) fail("the archive names '" + e.name + "' twice");
    }
    refuse_overlaps(out);
    return out;
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& source_;

  [[noreturn]] void fail(const std::string& what) const { throw InputError(source_, "not a valid zip archive: " + what); }
  [[noreturn]] void fail_entry(const std::string& name, const std::string& what) const {
    throw InputError(source_, "zip entry '" + name + "' " + what);
  }
  std::uint64_t size() const { return bytes_.size(); }

  // The end of central directory record: the last one whose comment runs exactly to the end.
  std::uint64_t find_end_record() const {
    if (size() < kEndRecordSize) fail("too short for a zip archive (truncated?)");
    const std::uint64_t last = size() - kEndRecordSize;
    const std::uint64_t first = last > 0xffff ? last - 0xffff : 0;
    for (std::uint64_t at = last + 1; at-- > first;) {
      const Fields f(bytes_, at);
      if (f.u32(0) == kEndRecord && f.u16(20) == size() - at - kEndRecordSize) return at;
    }
    fail("no end of central directory record (truncated or corrupt?)");
  }

  Directory directory() const {
    const std::uint64_t end_at = find_end_record();
    const Fields end(bytes_, end_at);
    Directory dir;
    std::uint64_t disk = end.u16(4), dir_disk = end.u16(6), on_disk = end.u16(8);
    dir.entries = end.u16(10);
    dir.size = end.u32(12);
    dir.offset = end.u32(16);
    dir.end = end_at;
    const bool locator = end_at >= kLocatorSize && Fields(bytes_, end_at - kLocatorSize).u32(0) == kZip64Locator;
    if (locator) {
      const Fields loc(bytes_, end_at - kLocatorSize);
      const std::uint64_t record_at = loc.u64(8);
      if (loc.u32(4) != 0 || loc.u32(16) > 1) fail("multi-volume zip archives are not supported");
      if (!fits(end_at - kLocatorSize, record_at, kZip64EndRecordSize))
        fail("the ZIP64 end of central directory record lies outside the archive (truncated or corrupt?)");
      const Fields z(bytes_, record_at);
      if (z.u32(0) != kZip64EndRecord) fail("the ZIP64 end of central directory locator points at no ZIP64 record");
      disk = z.u32(16);
      dir_disk = z.u32(20);
      on_disk = z.u64(24);
      dir.entries = z.u64(32);
      dir.size = z.u64(40);
      dir.offset = z.u64(48);
      dir.end = record_at;
    } else if (dir.entries == kSaturated16 || dir.size == kSaturated32 || dir.offset == kSaturated32) {
      fail("the end record asks for ZIP64 values but the ZIP64 locator is missing (truncated or corrupt?)");
    }
    if (disk != 0 || dir_disk != 0 || on_disk != dir.entries) fail("multi-volume zip archives are not supported");
    if (!fits(dir.end, dir.offset, dir.size))
      fail("the central directory (" + std::to_string(dir.size) + " bytes at offset " + std::to_string(dir.offset) +
           ") lies outside the " + std::to_string(size()) + "-byte archive (truncated or corrupt?)");
    if (dir.entries > dir.size / kCentralHeaderSize)
      fail("the central directory claims " + std::to_string(dir.entries) + " entries, more than its " +
           std::to_string(dir.size) + " bytes can hold");
    return dir;
  }

  ZipEntry central_header(std::uint64_t& at, std::uint64_t dir_end, std::uint64_t index) const {
    const std::string where = "central directory entry " + std::to_string(index);
    if (!fits(dir_end, at, kCentralHeaderSize)) fail(where + " runs past the directory (corrupt?)");
    const Fields h(bytes_, at);
    if (h.u32(0) != kCentralHeader) fail(where + " has no central file header signature (corrupt?)");
    const std::uint16_t flags = h.u16(8);
    const std::size_t name_len = h.u16(28), extra_len = h.u16(30), comment_len = h.u16(32);
    if (!fits(dir_end, at + kCentralHeaderSize, std::uint64_t{name_len} + extra_len + comment_len))
      fail(where + " runs past the directory (corrupt?)");
    ZipEntry e;
    const auto* name = reinterpret_cast<const char*>(bytes_.data() + at + kCentralHeaderSize);
    e.name.assign(name, name_len);
    e.method = h.u16(10);
    e.encrypted = (flags & 1) != 0;
    e.crc32 = h.u32(16);
    e.compressed_size = h.u32(20);
    e.size = h.u32(24);
    std::uint64_t disk = h.u16(34);
    e.header_offset = h.u32(42);
    zip64_extra(e, disk, at + kCentralHeaderSize + name_len, extra_len);
    if (disk != 0) fail_entry(e.name, "lies on another volume; multi-volume zip archives are not supported");
    at += kCentralHeaderSize + name_len + extra_len + comment_len;
    return e;
  }

  // Fields saturated in the central header are in the ZIP64 extra field, in a fixed order.
  void zip64_extra(ZipEntry& e, std::uint64_t& disk, std::uint64_t at, std::size_t length) const {
    const bool want_size = e.size == kSaturated32, want_compressed = e.compressed_size == kSaturated32,
               want_offset = e.header_offset == kSaturated32, want_disk = disk == kSaturated16;
    const std::uint64_t end = at + length;
    while (end - at >= 4) {
      const Fields f(bytes_, at);
      const std::uint16_t id = f.u16(0), field_len = f.u16(2);
      if (field_len > end - at - 4) fail_entry(e.name, "has an extra field running past its header (corrupt?)");
      if (id == kZip64ExtraId) {
        const Fields z(bytes_, at + 4);
        std::size_t pos = 0;
        auto take = [&](std::size_t width) {
          if (pos + width > field_len) fail_entry(e.name, "has a ZIP64 extra field too short for its saturated sizes");
          const std::uint64_t v = z.u(pos, width);
          pos += width;
          return v;
        };
        if (want_size) e.size = take(8);
        if (want_compressed) e.compressed_size = take(8);
        if (want_offset) e.header_offset = take(8);
        if (want_disk) disk = take(4);
        return;
      }
      at += 4 + field_len;
    }
    if (want_size || want_compressed || want_offset || want_disk)
      fail_entry(e.name, "has saturated sizes but no ZIP64 extra field (corrupt?)");
  }

  void local_header(ZipEntry& e, std::uint64_t dir_offset) const {
    if (!fits(dir_offset, e.header_offset, kLocalHeaderSize))
      fail_entry(e.name, "has its local header at offset " + std::to_string(e.header_offset) +
                             ", outside the archive's data (truncated or corrupt?)");
    const Fields h(bytes_, e.header_offset);
    if (h.u32(0) != kLocalHeader) fail_entry(e.name, "has no local file header where the directory says (corrupt?)");
    const std::size_t name_len = h.u16(26), extra_len = h.u16(28);
    const std::uint64_t name_at = e.header_offset + kLocalHeaderSize;
    if (!fits(dir_offset, name_at, std::uint64_t{name_len} + extra_len))
      fail_entry(e.name, "has a local header running past the archive's data (truncated or corrupt?)");
    if (std::string_view(reinterpret_cast<const char*>(bytes_.data() + name_at), name_len) != e.name)
      fail_entry(e.name, "has a different name in its local header (corrupt?)");
    e.data_offset = name_at + name_len + extra_len;
    if (!fits(dir_offset, e.data_offset, e.compressed_size))
      fail_entry(e.name, "claims " + std::to_string(e.compressed_size) + " bytes at offset " +
                             std::to_string(e.data_offset) + ", past the end of the archive's data (truncated?)");
    if (e.method == 0 && e.compressed_size != e.size)
      fail_entry(e.name, "is stored but records " + std::to_string(e.compressed_size) + " stored and " +
                             std::to_string(e.size) + " uncompressed bytes");
  }

  // Entries sharing bytes (overlapping "zip bombs") are refused.
  void refuse_overlaps(const std::vector<ZipEntry>& entries) const {
    std::vector<const ZipEntry*> order;
    order.reserve(entries.size());
    for (const auto& e : entries) order.push_back(&e);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->header_offset < b->header_offset; });
    for (std::size_t i = 1; i < order.size(); ++i) {
      const ZipEntry& prev = *order[i - 1];
      if (order[i]->header_offset < prev.data_offset + prev.compressed_size)
        fail("entries '" + prev.name + "' and '" + order[i]->name + "' overlap (corrupt or a zip bomb)");
    }
  }
};

}  // namespace

std::vector<ZipEntry> read_zip_directory(std::span<const std::byte> bytes, const std::string& source) {
  return Reader(bytes, source).entries();
}

}  // namespace medport::ckpt::detail
