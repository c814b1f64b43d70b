#pragma once
// Hand-made zip archives for reader tests: stored or deflated entries, optional ZIP64 records and
// extra fields, and "holes" (runs of zero bytes written as a sparse region of a file) so that a
// >4 GiB archive costs a few kilobytes of disk.
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace medport::testing {

struct ZipEntryOptions {
  bool deflate = false;
  bool zip64 = false;     // ZIP64 extra fields with saturated 32-bit fields
  std::size_t align = 0;  // pad the local header so the data starts at a multiple of this
};

class ZipBuilder {
 public:
  using Options = ZipEntryOptions;

  // An entry whose data is `data`.
  void add(const std::string& name, const std::string& data, Options o = {}) {
    Entry e{name, data, 0, o};
    e.crc = crc32_z(0, reinterpret_cast<const Bytef*>(data.data()), data.size());
    e.size = data.size();
    if (o.deflate) e.stored = deflated(data);
    else e.stored = data;
    entries_.push_back(std::move(e));
  }
  // An entry of `size` zero bytes, stored, written as a hole.
  void add_zeros(const std::string& name, std::uint64_t size, Options o = {}) {
    Entry e{name, {}, size, o};
    e.crc = crc_of_zeros(size);
    e.size = size;
    e.hole = true;
    entries_.push_back(std::move(e));
  }
  // ZIP64 end records even when nothing needs them.
  void force_zip64_end() { zip64_end_ = true; }

  std::vector<std::byte> bytes() {
    Output out;
    build(out);
    return out.memory;
  }
  // Writes the archive to `path`, holes as sparse regions.
  void write(const std::filesystem::path& path) {
    Output out;
    out.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out.fd < 0) throw std::runtime_error("cannot create " + path.string());
    build(out);
    const bool ok = ::ftruncate(out.fd, static_cast<off_t>(out.size)) == 0;
    ::close(out.fd);
    if (!ok) throw std::runtime_error("cannot size " + path.string());
  }

  static std::uint32_t crc_of_zeros(std::uint64_t n) {
    uLong result = 0, block = crc32_z(0, reinterpret_cast<const Bytef*>("\0"), 1);
    std::uint64_t length = 1;
    while (n) {
      if (n & 1) result = crc32_combine64(result, block, static_cast<z_off64_t>(length));
      block = crc32_combine64(block, block, static_cast<z_off64_t>(length));
      length *= 2;
      n >>= 1;
    }
    return static_cast<std::uint32_t>(result);
  }

 private:
  struct Entry {
    std::string name;
    std::string stored;  // the bytes as stored (deflated or not)
    std::uint64_t size = 0;
    Options options;
    std::uint32_t crc = 0;
    bool hole = false;
    std::uint64_t offset = 0;
  };
  struct Output {
    int fd = -1;
    std::vector<std::byte> memory;
    std::uint64_t size = 0;
    void put(const std::string& s) {
      if (fd >= 0) {
        if (::pwrite(fd, s.data(), s.size(), static_cast<off_t>(size)) != static_cast<ssize_t>(s.size()))
          throw std::runtime_error("write failed");
      } else {
        const auto* p = reinterpret_cast<const std::byte*>(s.data());
        memory.insert(memory.end(), p, p + s.size());
      }
      size += s.size();
    }
    void skip(std::uint64_t n) {
      if (fd < 0) memory.resize(memory.size() + n);
      size += n;
    }
  };
  std::vector<Entry> entries_;
  bool zip64_end_ = false;

  static std::string deflated(const std::string& data) {
    z_stream z{};
    deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&z, data.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
  }
  static void le(std::string& s, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  static std::uint32_t clamp32(std::uint64_t v, bool zip64) { return zip64 || v >= 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(v); }
  std::uint64_t stored_size(const Entry& e) const { return e.hole ? e.size : e.stored.size(); }

  void build(Output& out) {
    for (auto& e : entries_) {
      e.offset = out.size;
      const bool z64 = e.options.zip64;
      std::string extra;
      if (z64) {
        le(extra, 1, 2);
        le(extra, 16, 2);
        le(extra, e.size, 8);
        le(extra, stored_size(e), 8);
      }
      if (e.options.align) {
        const std::uint64_t data_at = out.size + 30 + e.name.size() + extra.size() + 4;
        const std::uint64_t pad = (e.options.align - data_at % e.options.align) % e.options.align;
        le(extra, 0xcafe, 2);  // an unknown extra field carries the padding
        le(extra, pad, 2);
        extra.append(static_cast<std::size_t>(pad), 'Z');
      }
      std::string h;
      le(h, 0x04034b50, 4);
      le(h, z64 ? 45 : 20, 2);
      le(h, 0, 2);
      le(h, e.options.deflate ? 8 : 0, 2);
      le(h, 0, 4);  // time, date
      le(h, e.crc, 4);
      le(h, clamp32(stored_size(e), z64), 4);
      le(h, clamp32(e.size, z64), 4);
      le(h, e.name.size(), 2);
      le(h, extra.size(), 2);
      h += e.name;
      h += extra;
      out.put(h);
      if (e.hole) out.skip(e.size);
      else out.put(e.stored);
    }
    const std::uint64_t dir_at = out.size;
    bool need_zip64 = zip64_end_ || entries_.size() >= 0xffff;
    for (const auto& e : entries_) {
      const bool z64 = e.options.zip64 || e.size >= 0xffffffffu || e.offset >= 0xffffffffu;
      need_zip64 = need_zip64 || z64;
      std::string extra;
      if (z64) {
        le(extra, 1, 2);
        le(extra, 24, 2);
        le(extra, e.size, 8);
        le(extra, stored_size(e), 8);
        le(extra, e.offset, 8);
      }
      std::string h;
      le(h, 0x02014b50, 4);
      le(h, z64 ? 45 : 20, 2);
      le(h, z64 ? 45 : 20, 2);
      le(h, 0, 2);
      le(h, e.options.deflate ? 8 : 0, 2);
      le(h, 0, 4);
      le(h, e.crc, 4);
      le(h, clamp32(stored_size(e), z64), 4);
      le(h, clamp32(e.size, z64), 4);
      le(h, e.name.size(), 2);
      le(h, extra.size(), 2);
      le(h, 0, 2);  // comment
      le(h, 0, 2);  // disk
      le(h, 0, 2);
      le(h, 0, 4);
      le(h, clamp32(e.offset, z64), 4);
      h += e.name;
      h += extra;
      out.put(h);
    }
    const std::uint64_t dir_size = out.size - dir_at;
    if (need_zip64) {
      const std::uint64_t record_at = out.size;
      std::string r;
      le(r, 0x06064b50, 4);
      le(r, 44, 8);
      le(r, 45, 2);
      le(r, 45, 2);
      le(r, 0, 4);
      le(r, 0, 4);
      le(r, entries_.size(), 8);
      le(r, entries_.size(), 8);
      le(r, dir_size, 8);
      le(r, dir_at, 8);
      le(r, 0x07064b50, 4);
      le(r, 0, 4);
      le(r, record_at, 8);
      le(r, 1, 4);
      out.put(r);
    }
    std::string end;
    le(end, 0x06054b50, 4);
    le(end, 0, 4);
    le(end, need_zip64 ? 0xffff : entries_.size(), 2);
    le(end, need_zip64 ? 0xffff : entries_.size(), 2);
    le(end, need_zip64 ? 0xffffffffu : dir_size, 4);
    le(end, need_zip64 ? 0xffffffffu : dir_at, 4);
    le(end, 0, 2);
    out.put(end);
  }
};

}  // namespace medport::testing
