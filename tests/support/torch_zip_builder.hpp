#pragma once
// Hand-made torch.save zip checkpoints for reader tests, without Python: a protocol-2 data.pkl
// holding a dict of name -> torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False,
// None), and one 64-byte-aligned stored record per storage, as torch writes them. Storages can be
// holes (zeros written as sparse regions) so that large checkpoints cost no disk.
#include <cstdint>
#include <string>
#include <vector>

#include "zip_builder.hpp"

namespace medport::testing {

class TorchZipBuilder {
 public:
  struct TensorSpec {
    std::string name;
    std::string storage_key;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> strides;  // empty: contiguous
    std::int64_t offset = 0;
  };

  explicit TorchZipBuilder(std::string prefix = "archive") : prefix_(std::move(prefix)) {}

  // A storage of `numel` elements of a torch storage class ("FloatStorage", "HalfStorage", ...)
  // with the given little-endian bytes (or zeros written as a hole when `bytes` is empty and
  // `hole` is set).
  void storage(const std::string& key, const std::string& storage_class, std::int64_t numel, std::string bytes,
               bool hole = false) {
    storages_.push_back({key, storage_class, numel, std::move(bytes), hole});
  }
  void tensor(TensorSpec spec) { tensors_.push_back(std::move(spec)); }
  void byteorder(std::string order) { byteorder_ = std::move(order); }

  ZipBuilder zip() const {
    ZipBuilder z;
    z.add(prefix_ + "/data.pkl", pickle());
    if (!byteorder_.empty()) z.add(prefix_ + "/byteorder", byteorder_);
    for (const auto& s : storages_) {
      const std::uint64_t size = s.hole ? static_cast<std::uint64_t>(s.numel) * element_size(s.storage_class) : s.bytes.size();
      ZipBuilder::Options o;
      o.align = 64;
      if (s.hole) z.add_zeros(prefix_ + "/data/" + s.key, size, o);
      else z.add(prefix_ + "/data/" + s.key, s.bytes, o);
    }
    z.add(prefix_ + "/version", "3\n");
    return z;
  }

  std::string pickle() const {
    std::string p = "\x80\x02}(";
    for (const auto& t : tensors_) {
      const Storage& s = find(t.storage_key);
      unicode(p, t.name);
      p += "ctorch._utils\n_rebuild_tensor_v2\n(";
      p += "(";
      unicode(p, "storage");
      p += "ctorch\n" + s.storage_class + "\n";
      unicode(p, s.key);
      unicode(p, "cpu");
      long1(p, s.numel);
      p += "tQ";
      long1(p, t.offset);
      ints(p, t.shape);
      ints(p, t.strides.empty() ? contiguous(t.shape) : t.strides);
      p += "\x89N";  // requires_grad False, no hooks
      p += "tR";
    }
    p += "u.";
    return p;
  }

 private:
  struct Storage {
    std::string key, storage_class;
    std::int64_t numel = 0;
    std::string bytes;
    bool hole = false;
  };
  std::string prefix_;
  std::string byteorder_;
  std::vector<Storage> storages_;
  std::vector<TensorSpec> tensors_;

  const Storage& find(const std::string& key) const {
    for (const auto& s : storages_)
      if (s.key == key) return s;
    throw std::runtime_error("no storage " + key);
  }
  static std::uint64_t element_size(const std::string& cls) {
    if (cls == "DoubleStorage" || cls == "LongStorage") return 8;
    if (cls == "FloatStorage" || cls == "IntStorage") return 4;
    if (cls == "HalfStorage" || cls == "BFloat16Storage" || cls == "ShortStorage") return 2;
    return 1;
  }
  static std::vector<std::int64_t> contiguous(const std::vector<std::int64_t>& shape) {
    std::vector<std::int64_t> s(shape.size());
    std::int64_t step = 1;
    for (std::size_t i = shape.size(); i-- > 0;) {
      s[i] = step;
      step *= shape[i] > 1 ? shape[i] : 1;
    }
    return s;
  }
  static void unicode(std::string& p, const std::string& s) {
    p += 'X';
    for (int i = 0; i < 4; ++i) p += static_cast<char>((s.size() >> (8 * i)) & 0xff);
    p += s;
  }
  // LONG1: little-endian two's complement, as many bytes as needed.
  static void long1(std::string& p, std::int64_t v) {
    std::string bytes;
    std::uint64_t u = static_cast<std::uint64_t>(v);
    do {
      bytes += static_cast<char>(u & 0xff);
      u >>= 8;
    } while (u != 0 || (static_cast<unsigned char>(bytes.back()) & 0x80));
    p += '\x8a';
    p += static_cast<char>(bytes.size());
    p += bytes;
  }
  static void ints(std::string& p, const std::vector<std::int64_t>& v) {
    p += '(';
    for (auto x : v) long1(p, x);
    p += 't';
  }
};

}  // namespace medport::testing
