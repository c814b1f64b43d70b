#include "medport/tensor.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace medport {

namespace {

void check_whole_elements(std::size_t nbytes, DType dtype) {
  if (nbytes % dtype_size(dtype) != 0)
    throw std::invalid_argument("storage byte size is not a multiple of the element size");
}

}  // namespace

Storage::Storage(DType dtype, std::vector<std::byte> bytes, std::string key)
    : dtype_(dtype), nbytes_(bytes.size()), key_(std::move(key)) {
  check_whole_elements(nbytes_, dtype_);
  auto owned = std::make_shared<std::vector<std::byte>>(std::move(bytes));
  owned_ = owned->data();
  view_ = {std::span<const std::byte>(*owned), std::move(owned), false};
}

Storage::Storage(DType dtype, ByteView view, std::string key)
    : dtype_(dtype), nbytes_(view.bytes.size()), key_(std::move(key)), view_(std::move(view)) {
  check_whole_elements(nbytes_, dtype_);
}

Storage::Storage(DType dtype, std::size_t nbytes, Loader loader, std::string key)
    : dtype_(dtype), nbytes_(nbytes), key_(std::move(key)), loader_(std::move(loader)), loaded_(false) {
  check_whole_elements(nbytes_, dtype_);
  if (!loader_) throw std::invalid_argument("lazy storage without a loader");
}

void Storage::load() const {
  std::call_once(loaded_once_, [this] {
    ByteView v = loader_();
    if (v.bytes.size() != nbytes_)
      throw std::logic_error("storage loader for '" + key_ + "' produced " + std::to_string(v.bytes.size()) +
                             " bytes instead of " + std::to_string(nbytes_));
    view_ = std::move(v);
    loaded_.store(true, std::memory_order_release);
  });
}

const std::byte* Storage::data() const {
  if (!loaded_.load(std::memory_order_acquire)) load();
  return view_.bytes.data();
}

std::byte* Storage::mutable_data() {
  if (!owned_) throw std::logic_error("storage '" + key_ + "' views memory it does not own; it is read-only");
  return owned_;
}

ByteView Storage::view(std::size_t offset, std::size_t length) const {
  data();
  if (offset > nbytes_ || length > nbytes_ - offset)
    throw std::out_of_range("bytes [" + std::to_string(offset) + ", +" + std::to_string(length) + ") lie outside storage '" +
                            key_ + "' of " + std::to_string(nbytes_) + " bytes");
  return {view_.bytes.subspan(offset, length), view_.owner, view_.file_backed};
}

bool Storage::file_backed() const {
  data();
  return view_.file_backed;
}

bool Storage::loaded() const { return loaded_.load(std::memory_order_acquire); }

void Storage::release_pages() const {
  if (loaded()) view_.release_pages();
}

void ByteView::release_pages() const {
  if (!file_backed || bytes.empty()) return;
  static const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(bytes.data());
  const auto first = (begin + page - 1) / page * page;
  const auto last = (begin + bytes.size()) / page * page;
  // Only whole pages inside the view: a neighbour's bytes on a shared page stay mapped (they
  // would be dropped harmlessly anyway, the mapping being read-only and file-backed).
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::out_of_range("negative dimension");
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / d)
      throw std::out_of_range("element count overflows int64");
    n *= d;
  }
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  std::int64_t s = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<std::int64_t>(shape[i], 1);
  }
  return strides;
}

Tensor::Tensor(std::shared_ptr<const Storage> storage, std::int64_t offset, Shape shape, Shape strides)
    : storage_(std::move(storage)), offset_(offset), shape_(std::move(shape)), strides_(std::move(strides)) {
  if (!storage_) throw std::invalid_argument("tensor without storage");
  if (shape_.size() != strides_.size())
    throw std::out_of_range("shape has " + std::to_string(shape_.size()) + " dims but strides have " +
                            std::to_string(strides_.size()));
  if (offset_ < 0) throw std::out_of_range("negative storage offset");
  const std::int64_t n = shape_numel(shape_);
  if (n == 0) {
    if (offset_ > storage_->numel()) throw std::out_of_range("storage offset past the end of its storage");
    return;
  }
  // Highest and lowest element index the view can touch, computed without overflow.
  __int128 hi = offset_, lo = offset_;
  for (std::size_t i = 0; i < shape_.size(); ++i) {
    const __int128 extent = static_cast<__int128>(shape_[i] - 1) * strides_[i];
    if (extent > 0) hi += extent; else lo += extent;
  }
  if (lo < 0 || hi >= storage_->numel())
    throw std::out_of_range("view [offset " + std::to_string(offset_) + ", shape " + shape_string(shape_) +
                            ", strides " + shape_string(strides_) + "] reads past its storage of " +
                            std::to_string(storage_->numel()) + " elements");
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  const auto n = shape_numel(shape);
  auto storage = std::make_shared<Storage>(dtype, std::vector<std::byte>(static_cast<std::size_t>(n) * dtype_size(dtype)));
  auto strides = contiguous_strides(shape);
  return Tensor(std::move(storage), 0, std::move(shape), std::move(strides));
}

Tensor Tensor::from_bytes(DType dtype, Shape shape, std::span<const std::byte> bytes) {
  const auto n = static_cast<std::uint64_t>(shape_numel(shape));
  const std::size_t item = dtype_size(dtype);
  // n * item could wrap (2^62 float32 elements are "0 bytes"): compare by division first.
  if (n > std::numeric_limits<std::size_t>::max() / item || bytes.size() != n * item)
    throw std::invalid_argument("byte count does not match shape " + shape_string(shape));
  auto storage = std::make_shared<Storage>(dtype, std::vector<std::byte>(bytes.begin(), bytes.end()));
  auto strides = contiguous_strides(shape);
  return Tensor(std::move(storage), 0, std::move(shape), std::move(strides));
}

Tensor Tensor::from_f32(Shape shape, std::span<const float> values) {
  return from_bytes(DType::F32, std::move(shape), std::as_bytes(values));
}

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (std::size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (shape_[i] == 0) return true;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

const std::byte* Tensor::raw_data() const {
  if (!storage_) return nullptr;
  return storage_->data() + static_cast<std::size_t>(offset_) * dtype_size(dtype());
}

std::vector<std::byte> Tensor::contiguous_bytes() const {
  const std::size_t esize = dtype_size(dtype());
  const std::int64_t n = numel();
  std::vector<std::byte> out(static_cast<std::size_t>(n) * esize);
  if (n == 0) return out;
  if (is_contiguous()) {
    std::memcpy(out.data(), raw_data(), out.size());
    return out;
  }
  // Odometer over the index space; the innermost dimension is copied element by element.
  const std::size_t nd = shape_.size();
  std::vector<std::int64_t> index(nd, 0);
  const std::byte* base = storage_->data();
  std::int64_t src = offset_;
  for (std::int64_t k = 0; k < n; ++k) {
    std::memcpy(out.data() + static_cast<std::size_t>(k) * esize, base + static_cast<std::size_t>(src) * esize, esize);
    for (std::size_t d = nd; d-- > 0;) {
      if (++index[d] < shape_[d]) {
        src += strides_[d];
        break;
      }
      src -= strides_[d] * (shape_[d] - 1);
      index[d] = 0;
    }
  }
  return out;
}

Tensor Tensor::contiguous() const {
  if (!storage_ || is_contiguous()) {
    if (!storage_) return *this;
    // Contiguous but possibly with odd strides on size-1 dims: normalise strides, keep storage.
    return Tensor(storage_, offset_, shape_, contiguous_strides(shape_));
  }
  return from_bytes(dtype(), shape_, contiguous_bytes());
}

namespace {

template <class T>
void convert_to_f32(const std::byte* src, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(v);
  }
}

// Row-major element bytes of `t` converted to float32 into `out` (numel floats).
void convert_elements_to_f32(DType dtype, const std::byte* p, std::size_t n, float* out) {
  switch (dtype) {
    case DType::F32: if (n) std::memcpy(out, p, n * 4); break;
    case DType::F64: convert_to_f32<double>(p, n, out); break;
    case DType::I64: convert_to_f32<std::int64_t>(p, n, out); break;
    case DType::I32: convert_to_f32<std::int32_t>(p, n, out); break;
    case DType::I16: convert_to_f32<std::int16_t>(p, n, out); break;
    case DType::I8: convert_to_f32<std::int8_t>(p, n, out); break;
    case DType::U8: convert_to_f32<std::uint8_t>(p, n, out); break;
    case DType::U16: convert_to_f32<std::uint16_t>(p, n, out); break;
    case DType::Bool:
      for (std::size_t i = 0; i < n; ++i) out[i] = p[i] != std::byte{0} ? 1.0f : 0.0f;
      break;
    case DType::F16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t b;
        std::memcpy(&b, p + 2 * i, 2);
        out[i] = half_to_float(b);
      }
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < n; ++i) {
        std::uint16_t b;
        std::memcpy(&b, p + 2 * i, 2);
        out[i] = bfloat16_to_float(b);
      }
      break;
  }
}

}  // namespace

// The element bytes in row-major order without a copy when the view is contiguous; `scratch`
// holds the gathered copy otherwise.
const std::byte* Tensor::row_major_bytes(std::vector<std::byte>& scratch) const {
  if (is_contiguous()) return raw_data();
  scratch = contiguous_bytes();
  return scratch.data();
}

std::vector<float> Tensor::to_f32() const {
  const std::size_t n = static_cast<std::size_t>(numel());
  std::vector<float> out(n);
  if (n == 0) return out;
  std::vector<std::byte> scratch;
  convert_elements_to_f32(dtype(), row_major_bytes(scratch), n, out.data());
  return out;
}

namespace {
double load_as_double(DType d, const std::byte* p) {
  switch (d) {
    case DType::F32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::F64: { double v; std::memcpy(&v, p, 8); return v; }
    case DType::F16: { std::uint16_t b; std::memcpy(&b, p, 2); return half_to_float(b); }
    case DType::BF16: { std::uint16_t b; std::memcpy(&b, p, 2); return bfloat16_to_float(b); }
    case DType::I64: { std::int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case DType::I32: { std::int32_t v; std::memcpy(&v, p, 4); return v; }
    case DType::I16: { std::int16_t v; std::memcpy(&v, p, 2); return v; }
    case DType::I8: { std::int8_t v; std::memcpy(&v, p, 1); return v; }
    case DType::U8: { std::uint8_t v; std::memcpy(&v, p, 1); return v; }
    case DType::U16: { std::uint16_t v; std::memcpy(&v, p, 2); return v; }
    case DType::Bool: return *p != std::byte{0} ? 1.0 : 0.0;
  }
  return 0.0;
}

template <class T>
void store(std::byte* p, T v) { std::memcpy(p, &v, sizeof(T)); }

// Float -> integer conversion saturates (NaN -> 0): out-of-range casts are undefined in C++.
template <class T>
T saturate(double v) {
  if (std::isnan(v)) return T{0};
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

void store_from_double(DType d, std::byte* p, double v) {
  switch (d) {
    case DType::F32: store(p, static_cast<float>(v)); break;
    case DType::F64: store(p, v); break;
    case DType::F16: store(p, float_to_half(static_cast<float>(v))); break;
    case DType::BF16: store(p, float_to_bfloat16(static_cast<float>(v))); break;
    case DType::I64: store(p, saturate<std::int64_t>(v)); break;
    case DType::I32: store(p, saturate<std::int32_t>(v)); break;
    case DType::I16: store(p, saturate<std::int16_t>(v)); break;
    case DType::I8: store(p, saturate<std::int8_t>(v)); break;
    case DType::U8: store(p, saturate<std::uint8_t>(v)); break;
    case DType::U16: store(p, saturate<std::uint16_t>(v)); break;
    case DType::Bool: store(p, static_cast<std::uint8_t>(v != 0.0)); break;
  }
}
}  // namespace

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return contiguous();
  const std::size_t n = static_cast<std::size_t>(numel());
  const std::size_t in_size = dtype_size(dtype()), out_size = dtype_size(target);
  std::vector<std::byte> scratch;
  const std::byte* src = n ? row_major_bytes(scratch) : nullptr;
  std::vector<std::byte> out(n * out_size);
  if (target == DType::F32 && dtype() != DType::I64) {
    // Exactly as through double (int64 alone could round twice), without the per-element switch.
    convert_elements_to_f32(dtype(), src, n, reinterpret_cast<float*>(out.data()));
  } else if (dtype() == DType::I64 && target == DType::I32) {
    for (std::size_t i = 0; i < n; ++i) {
      std::int64_t v; std::memcpy(&v, src + i * 8, 8);
      store(out.data() + i * 4, static_cast<std::int32_t>(v));
    }
  } else {
    for (std::size_t i = 0; i < n; ++i)
      store_from_double(target, out.data() + i * out_size, load_as_double(dtype(), src + i * in_size));
  }
  auto storage = std::make_shared<Storage>(target, std::move(out));
  return Tensor(std::move(storage), 0, shape_, contiguous_strides(shape_));
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel())
    throw std::invalid_argument("cannot reshape " + shape_string(shape_) + " to " + shape_string(shape));
  const Tensor c = contiguous();
  auto strides = contiguous_strides(shape);
  return Tensor(c.storage_, c.offset_, std::move(shape), std::move(strides));
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace medport
