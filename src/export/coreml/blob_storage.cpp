#include "export/coreml/blob_storage.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "medport/error.hpp"
#include "medport/util/atomic_file.hpp"

namespace medport::coreml {

namespace {

constexpr std::int64_t kChunkElements = std::int64_t{1} << 16;

std::uint64_t align_up(std::uint64_t v) { return (v + kBlobAlignment - 1) / kBlobAlignment * kBlobAlignment; }

template <class T>
void put(std::byte* at, T value) {
  std::memcpy(at, &value, sizeof(T));
}
template <class T>
T get(const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

// SHA-256 over everything the file receives.
class HashingFile {
 public:
  explicit HashingFile(const std::filesystem::path& path) : file_(path), ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw std::runtime_error("sha256 init failed");
  }
  ~HashingFile() { EVP_MD_CTX_free(ctx_); }
  HashingFile(const HashingFile&) = delete;
  HashingFile& operator=(const HashingFile&) = delete;

  void write(std::span<const std::byte> bytes) {
    EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
    file_.write(bytes);
  }
  void pad_to(std::uint64_t offset) {
    if (offset <= file_.size()) return;
    const std::vector<std::byte> zeros(offset - file_.size());
    write(zeros);
  }
  std::string commit() {
    file_.commit();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, digest, &n);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
      out += hex[digest[i] >> 4];
      out += hex[digest[i] & 15];
    }
    return out;
  }

 private:
  AtomicFile file_;
  EVP_MD_CTX* ctx_;
};

// The source's elements, converted to the blob dtype, in chunks.
void write_converted(HashingFile& out, const Tensor& source, BlobDType dtype) {
  const Tensor t = source.is_contiguous() ? source : source.contiguous();
  const std::int64_t n = t.numel();
  std::vector<std::byte> chunk;
  for (std::int64_t start = 0; start < n; start += kChunkElements) {
    const std::int64_t count = std::min(kChunkElements, n - start);
    chunk.resize(static_cast<std::size_t>(count) * blob_dtype_size(dtype));
    for (std::int64_t i = 0; i < count; ++i) {
      float v = 0.0f;
      switch (t.dtype()) {
        case DType::F32: v = t.data<float>()[start + i]; break;
        case DType::F16: v = half_to_float(t.data<std::uint16_t>()[start + i]); break;
        case DType::BF16: v = bfloat16_to_float(t.data<std::uint16_t>()[start + i]); break;
        case DType::F64: v = static_cast<float>(t.data<double>()[start + i]); break;
        default: throw std::logic_error("weight blob from a non-float tensor");
      }
      if (dtype == BlobDType::Float32) {
        put(chunk.data() + 4 * i, v);
      } else if (t.dtype() == DType::F16) {
        put(chunk.data() + 2 * i, t.data<std::uint16_t>()[start + i]);  // already half: bit for bit
      } else {
        put(chunk.data() + 2 * i, float_to_half(v));
      }
    }
    out.write(chunk);
  }
  // A weight read from a memory-mapped checkpoint is not needed again: let its pages go, so the
  // resident set does not grow by the whole model while weight.bin is written.
  if (source.storage()) source.storage()->release_pages();
}

}  // namespace

std::size_t blob_dtype_size(BlobDType dtype) { return dtype == BlobDType::Float16 ? 2 : 4; }

std::uint64_t BlobPlan::add(const Tensor& source, BlobDType dtype) {
  Entry e{dtype, static_cast<std::uint64_t>(source.numel()) * blob_dtype_size(dtype), 0, 0, source};
  e.metadata_offset = align_up(end_);
  e.data_offset = e.metadata_offset + kBlobMetadataBytes;  // 64-aligned as the record is
  end_ = e.data_offset + e.size;
  entries_.push_back(std::move(e));
  return entries_.back().metadata_offset;
}

std::uint64_t BlobPlan::data_bytes() const {
  std::uint64_t total = 0;
  for (const auto& e : entries_) total += e.size;
  return total;
}

std::string write_blob_file(const BlobPlan& plan, const std::filesystem::path& path) {
  HashingFile out(path);
  std::byte header[kBlobHeaderBytes] = {};
  put(header, static_cast<std::uint32_t>(plan.entries().size()));
  put(header + 4, kBlobStorageVersion);
  out.write(header);
  for (const auto& e : plan.entries()) {
    out.pad_to(e.metadata_offset);
    std::byte meta[kBlobMetadataBytes] = {};
    put(meta, kBlobSentinel);
    put(meta + 4, static_cast<std::uint32_t>(e.dtype));
    put(meta + 8, e.size);
    put(meta + 16, e.data_offset);
    out.write(meta);
    write_converted(out, e.source, e.dtype);
  }
  return out.commit();
}

BlobReader::BlobReader(const std::filesystem::path& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path.string(), "cannot open the weight file");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path.string(), "not a regular file");
  }
  size_ = static_cast<std::uint64_t>(st.st_size);
  if (size_ < kBlobHeaderBytes) {
    ::close(fd);
    throw InputError(path.string(), "too short for a weight file header (" + std::to_string(size_) + " bytes)");
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) throw InputError(path.string(), "cannot map the weight file");
  data_ = static_cast<const std::byte*>(map);
  count_ = get<std::uint32_t>(data_);
  const auto version = get<std::uint32_t>(data_ + 4);
  if (version != kBlobStorageVersion) {
    ::munmap(const_cast<std::byte*>(data_), size_);
    throw InputError(path.string(), "blob storage version " + std::to_string(version) + " (expected 2)");
  }
}

BlobReader::~BlobReader() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

BlobReader::Blob BlobReader::blob(std::uint64_t offset) const {
  const auto where = "blob record at offset " + std::to_string(offset);
  if (offset % kBlobAlignment != 0 || offset < kBlobHeaderBytes || offset > size_ - kBlobMetadataBytes)
    throw InputError(path_.string(), where + ": not a 64-byte aligned record inside the file");
  const std::byte* meta = data_ + offset;
  if (get<std::uint32_t>(meta) != kBlobSentinel) throw InputError(path_.string(), where + ": bad sentinel");
  const auto dtype = get<std::uint32_t>(meta + 4);
  if (dtype != 1 && dtype != 2)
    throw InputError(path_.string(), where + ": unsupported blob dtype " + std::to_string(dtype));
  Blob b{static_cast<BlobDType>(dtype), get<std::uint64_t>(meta + 8), get<std::uint64_t>(meta + 16)};
  if (b.data_offset % kBlobAlignment != 0 || b.data_offset < offset + kBlobMetadataBytes || b.data_offset > size_ ||
      b.size > size_ - b.data_offset || b.size % blob_dtype_size(b.dtype) != 0)
    throw InputError(path_.string(), where + ": data (offset " + std::to_string(b.data_offset) + ", " +
                                         std::to_string(b.size) + " bytes) is misaligned or outside the file");
  return b;
}

std::vector<std::uint64_t> BlobReader::metadata_offsets() const {
  std::vector<std::uint64_t> offsets;
  std::uint64_t at = kBlobHeaderBytes;
  for (std::uint32_t i = 0; i < count_; ++i) {
    at = align_up(at);
    const Blob b = blob(at);
    offsets.push_back(at);
    at = b.data_offset + b.size;
  }
  return offsets;
}

Tensor BlobReader::tensor(std::uint64_t metadata_offset, const Shape& shape) const {
  const Blob b = blob(metadata_offset);
  const DType dtype = b.dtype == BlobDType::Float16 ? DType::F16 : DType::F32;
  // The declared byte count, computed without overflow: anything past the file cannot match.
  std::uint64_t expected = dtype_size(dtype);
  for (const auto d : shape) {
    if (d < 0 || (d != 0 && expected > size_ / static_cast<std::uint64_t>(d))) {
      expected = std::numeric_limits<std::uint64_t>::max();
      break;
    }
    expected *= static_cast<std::uint64_t>(d);
  }
  if (expected != b.size)
    throw InputError(path_.string(), "blob at offset " + std::to_string(metadata_offset) + " holds " +
                                         std::to_string(b.size) + " bytes, the program declares " +
                                         shape_string(shape) + " " + std::string(dtype_name(dtype)));
  return Tensor::from_bytes(dtype, shape, std::span(data_ + b.data_offset, b.size));
}

}  // namespace medport::coreml
