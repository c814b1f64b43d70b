#include "medport/tensor.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "test_support.hpp"

using medport::DType;
using medport::Shape;
using medport::Storage;
using medport::Tensor;

namespace {

std::shared_ptr<const Storage> iota_storage(int n) {
  std::vector<std::byte> bytes(static_cast<std::size_t>(n) * 4);
  for (int i = 0; i < n; ++i) {
    const float v = static_cast<float>(i);
    std::memcpy(bytes.data() + 4 * i, &v, 4);
  }
  return std::make_shared<Storage>(DType::F32, std::move(bytes), "0");
}

TEST(Tensor, TransposedViewGathersInRowMajorOrder) {
  auto s = iota_storage(6);  // [[0,1,2],[3,4,5]]
  Tensor t(s, 0, {3, 2}, {1, 3});
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.to_f32(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(Tensor, OffsetAndStrideViewsShareStorage) {
  auto s = iota_storage(10);
  Tensor every_other(s, 1, {3}, {3});
  EXPECT_EQ(every_other.to_f32(), (std::vector<float>{1, 4, 7}));
  Tensor scalar(s, 9, {}, {});
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(scalar.to_f32(), (std::vector<float>{9}));
  EXPECT_EQ(every_other.storage().get(), scalar.storage().get());
}

TEST(Tensor, ViewPastStorageIsRejected) {
  auto s = iota_storage(4);
  EXPECT_THROW(Tensor(s, 2, {3}, {1}), std::out_of_range);
  EXPECT_THROW(Tensor(s, 0, {2, 2}, {3, 1}), std::out_of_range);
  EXPECT_THROW(Tensor(s, -1, {1}, {1}), std::out_of_range);
  EXPECT_THROW(Tensor(s, 0, {std::numeric_limits<std::int64_t>::max(), 2}, {1, 1}), std::out_of_range);
  EXPECT_NO_THROW(Tensor(s, 4, {0}, {1}));  // empty view at the end is fine
}

TEST(Tensor, HalfAndBfloat16RoundTrip) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f}) {
    EXPECT_EQ(medport::half_to_float(medport::float_to_half(v)), v) << v;
  }
  EXPECT_EQ(medport::float_to_half(1e6f), 0x7c00);  // overflow -> inf
  EXPECT_TRUE(std::isnan(medport::half_to_float(medport::float_to_half(std::nanf("")))));
  EXPECT_EQ(medport::bfloat16_to_float(medport::float_to_bfloat16(1.5f)), 1.5f);
  EXPECT_EQ(medport::float_to_bfloat16(1.00390625f), 0x3f80);  // tie rounds to even
}

TEST(Tensor, ConvertsBetweenDtypes) {
  const std::vector<float> v{1.0f, -2.0f, 3.5f};
  Tensor t = Tensor::from_f32({3}, v);
  EXPECT_EQ(t.to(DType::F16).to_f32(), v);
  EXPECT_EQ(t.to(DType::F64).to_f32(), v);
  EXPECT_EQ(t.to(DType::I64).to_f32(), (std::vector<float>{1, -2, 3}));
  EXPECT_EQ(t.to(DType::Bool).to_f32(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(t.reshaped({3, 1}).shape(), (Shape{3, 1}));
  EXPECT_THROW(t.reshaped({2}), std::invalid_argument);
}

}  // namespace

namespace {
TEST(Tensor, FloatToIntegerConversionSaturates) {
  const std::vector<float> v{-1.0f, 300.0f, std::nanf(""), 1e30f, -1e30f, 7.0f};
  EXPECT_EQ(Tensor::from_f32({6}, v).to(DType::U8).to_f32(), (std::vector<float>{0, 255, 0, 255, 0, 7}));
  EXPECT_EQ(Tensor::from_f32({6}, v).to(DType::I8).to_f32(), (std::vector<float>{-1, 127, 0, 127, -128, 7}));
  const auto i64 = Tensor::from_f32({6}, v).to(DType::I64);
  EXPECT_EQ(i64.data<std::int64_t>()[3], std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(i64.data<std::int64_t>()[4], std::numeric_limits<std::int64_t>::lowest());
}
}  // namespace

namespace {

TEST(Storage, ViewSharesTheOwnersMemory) {
  auto buffer = std::make_shared<std::vector<std::byte>>(16, std::byte{0});
  const float v = 2.5f;
  std::memcpy(buffer->data() + 4, &v, 4);
  auto storage = std::make_shared<const Storage>(DType::F32, medport::ByteView{*buffer, buffer});
  const Tensor t(storage, 1, {1}, {1});
  EXPECT_EQ(t.raw_data(), buffer->data() + 4);  // the owner's bytes, not a copy
  EXPECT_EQ(t.to_f32(), (std::vector<float>{2.5f}));
  EXPECT_FALSE(storage->owns_bytes());
  EXPECT_THROW(const_cast<Storage&>(*storage).mutable_data(), std::logic_error);
  // The view keeps its owner alive.
  std::weak_ptr<std::vector<std::byte>> weak = buffer;
  buffer.reset();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(t.to_f32(), (std::vector<float>{2.5f}));
}

TEST(Storage, LazyStorageLoadsOnFirstUseOnly) {
  int loads = 0;
  auto storage = std::make_shared<const Storage>(DType::F32, 8, [&loads] {
    ++loads;
    auto bytes = std::make_shared<std::vector<std::byte>>(8, std::byte{0});
    return medport::ByteView{*bytes, bytes};
  });
  const Tensor t(storage, 0, {2}, {1});  // bounds are checked without loading
  EXPECT_EQ(loads, 0);
  EXPECT_FALSE(storage->loaded());
  EXPECT_EQ(t.numel(), 2);
  EXPECT_EQ(t.to_f32(), (std::vector<float>{0, 0}));
  EXPECT_EQ(t.to_f32(), (std::vector<float>{0, 0}));
  EXPECT_EQ(loads, 1);
  EXPECT_THROW(Tensor(storage, 1, {2}, {1}), std::out_of_range);
}

TEST(Storage, FailedLoadSurfacesAndIsRetried) {
  int attempts = 0;
  auto storage = std::make_shared<const Storage>(DType::U8, 2, [&attempts]() -> medport::ByteView {
    if (++attempts == 1) throw std::runtime_error("damaged record");
    auto bytes = std::make_shared<std::vector<std::byte>>(2, std::byte{1});
    return {*bytes, bytes};
  });
  EXPECT_THROW(storage->data(), std::runtime_error);
  EXPECT_EQ(storage->bytes().size(), 2u);
  EXPECT_EQ(attempts, 2);
  auto wrong = std::make_shared<const Storage>(DType::U8, 3, [] {
    auto bytes = std::make_shared<std::vector<std::byte>>(2);
    return medport::ByteView{*bytes, bytes};
  });
  EXPECT_THROW(wrong->data(), std::logic_error);
}

TEST(Storage, ReleasedFilePagesReadBackUnchanged) {
  medport::testing::TempDir dir;
  const auto path = dir / "pages.bin";
  std::vector<float> values(4096);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(values.data(), 4, values.size(), f);
    std::fclose(f);
  }
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* p = ::mmap(nullptr, values.size() * 4, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  ASSERT_NE(p, MAP_FAILED);
  std::shared_ptr<void> mapping(p, [n = values.size() * 4](void* q) { ::munmap(q, n); });
  const std::span<const std::byte> bytes(static_cast<const std::byte*>(p), values.size() * 4);
  const auto storage = std::make_shared<const Storage>(DType::F32, medport::ByteView{bytes, mapping, true});
  const Tensor t(storage, 0, {4096}, {1});
  EXPECT_EQ(t.to_f32(), values);
  storage->release_pages();
  EXPECT_EQ(t.to_f32(), values);
  // Owned memory is never dropped.
  const Tensor owned = Tensor::from_f32({4096}, values);
  owned.storage()->release_pages();
  EXPECT_EQ(owned.to_f32(), values);
}

TEST(Tensor, HalfPrecisionConvertsToFloat32ElementByElement) {
  const std::uint16_t half[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
  const std::uint16_t bf16[2] = {0x3f80, 0xc0a0};
  const Tensor h = Tensor::from_bytes(DType::F16, {2, 2}, std::as_bytes(std::span(half)));
  EXPECT_EQ(h.to(DType::F32).to_f32(), (std::vector<float>{1.0f, -2.0f, 65504.0f, 5.9604645e-08f}));
  const Tensor ht(h.storage(), 0, {2, 2}, {1, 2});  // transposed: gathered, then converted
  EXPECT_EQ(ht.to(DType::F32).to_f32(), (std::vector<float>{1.0f, 65504.0f, -2.0f, 5.9604645e-08f}));
  const Tensor b = Tensor::from_bytes(DType::BF16, {2}, std::as_bytes(std::span(bf16)));
  EXPECT_EQ(b.to(DType::F32).to_f32(), (std::vector<float>{1.0f, -5.0f}));
  const std::int64_t big = (std::int64_t{1} << 53) + 1;
  const Tensor i = Tensor::from_bytes(DType::I64, {1}, std::as_bytes(std::span(&big, 1)));
  EXPECT_EQ(i.to(DType::F32).to_f32()[0], static_cast<float>(static_cast<double>(big)));
}

}  // namespace

TEST(Tensor, FromBytesRefusesAByteCountThatWouldWrap) {
  // 2^62 float32 elements are 2^64 bytes, which wraps to 0 in 64 bits.
  EXPECT_THROW(Tensor::from_bytes(DType::F32, {std::int64_t{1} << 62}, {}), std::invalid_argument);
  EXPECT_THROW(Tensor::from_bytes(DType::F64, {std::int64_t{1} << 31, std::int64_t{1} << 30}, {}), std::invalid_argument);
  EXPECT_EQ(Tensor::from_bytes(DType::F32, {0, 5}, {}).numel(), 0);
}
