#include "zlib_streams.hpp"

#include <zlib.h>

#include <algorithm>
#include <memory>

#include "medport/error.hpp"

namespace medport::imaging::detail {
namespace {

constexpr std::size_t kChunk = std::size_t{1} << 30;

int window_bits(Wrapper wrapper) { return wrapper == Wrapper::Gzip ? 15 + 16 : 15; }

struct Inflater {
  z_stream zs{};
  explicit Inflater(Wrapper wrapper, const std::string& source) {
    if (inflateInit2(&zs, window_bits(wrapper)) != Z_OK) throw InputError(source, "zlib initialisation failed");
  }
  ~Inflater() { inflateEnd(&zs); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};

// Inflates into out[0, out.size()) and reports how the stream stood when it stopped.
struct Progress {
  std::size_t produced = 0;
  std::size_t consumed = 0;
  bool stream_ended = false;  // the last member ended (checksum verified) and no input is left
  bool damaged = false;
};

Progress run(std::span<const std::byte> in, std::span<std::byte> out, Wrapper wrapper, const std::string& source) {
  Inflater inf(wrapper, source);
  Progress p;
  for (;;) {
    const std::size_t in_left = in.size() - p.consumed, out_left = out.size() - p.produced;
    inf.zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + p.consumed));
    inf.zs.avail_in = static_cast<uInt>(std::min(in_left, kChunk));
    inf.zs.next_out = reinterpret_cast<Bytef*>(out.data() + p.produced);
    inf.zs.avail_out = static_cast<uInt>(std::min(out_left, kChunk));
    const uInt in_before = inf.zs.avail_in, out_before = inf.zs.avail_out;
    const int rc = inflate(&inf.zs, Z_NO_FLUSH);
    p.consumed += in_before - inf.zs.avail_in;
    p.produced += out_before - inf.zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (p.consumed == in.size()) {
        p.stream_ended = true;
        return p;
      }
      if (wrapper != Wrapper::Gzip) {  // bytes after a zlib stream
        p.damaged = true;
        return p;
      }
      inflateReset(&inf.zs);  // gzip files may hold several members, read back to back
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      p.damaged = true;
      return p;
    }
    if (p.produced == out.size()) return p;  // full: the caller decides whether more is wrong
    if (rc == Z_BUF_ERROR || (in_before == inf.zs.avail_in && out_before == inf.zs.avail_out)) return p;  // input ran out
  }
}

}  // namespace

bool exceeds_deflate_ratio(std::size_t claimed, std::size_t compressed) {
  return static_cast<double>(claimed) > static_cast<double>(compressed) * 1100.0 + 4096.0;
}

std::vector<std::byte> inflate_exact(std::span<const std::byte> in, std::size_t expected, Wrapper wrapper,
                                     const std::string& source, const std::string& what) {
  std::vector<std::byte> out(expected + 1);  // one byte more: a stream that fills it is too long
  const Progress p = run(in, out, wrapper, source);
  if (p.damaged) throw InputError(source, what + " is corrupt (bad " + (wrapper == Wrapper::Gzip ? "gzip" : "zlib") + " stream)");
  if (p.produced > expected)
    throw InputError(source, what + " holds more than the " + std::to_string(expected) + " bytes its header describes");
  if (p.produced < expected)
    throw InputError(source, what + " is truncated: " + std::to_string(p.produced) + " of " + std::to_string(expected) +
                                 " bytes");
  if (!p.stream_ended)
    throw InputError(source, what + " is truncated: the compressed stream ends without its checksum");
  out.resize(expected);
  return out;
}

std::vector<std::byte> inflate_prefix(std::span<const std::byte> in, std::size_t count, Wrapper wrapper,
                                      const std::string& source, const std::string& what) {
  std::vector<std::byte> out(count);
  const Progress p = run(in, out, wrapper, source);
  if (p.damaged && p.produced < count) throw InputError(source, what + " is corrupt (bad compressed stream)");
  out.resize(p.produced);
  return out;
}

}  // namespace medport::imaging::detail
