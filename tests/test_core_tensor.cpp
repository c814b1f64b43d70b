#include "medport/tensor.hpp"

#include <cmath>
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
