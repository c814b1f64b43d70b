// The LabelImage container: construction checks, tensor conversion and binary masks.
#include <gtest/gtest.h>

#include "medport/error.hpp"
#include "medport/imaging/label_image.hpp"
#include "test_support.hpp"

namespace mi = medport::imaging;

TEST(LabelImage, ConstructionChecks) {
  const mi::LabelImage image({3, 4}, {0.5, 2.0});
  EXPECT_EQ(image.numel(), 12);
  EXPECT_EQ(image.labels.size(), 12U);
  EXPECT_DOUBLE_EQ(image.spacing_at(1), 2.0);
  EXPECT_DOUBLE_EQ(mi::LabelImage({2, 2}).spacing_at(0), 1.0);
  EXPECT_THROW(mi::LabelImage({4}), medport::InputError);
  EXPECT_THROW(mi::LabelImage({2, 0}), medport::InputError);
  EXPECT_THROW(mi::LabelImage({2, 2, 2, 2}), medport::InputError);
  EXPECT_THROW(mi::LabelImage({2, 2}, {1.0}), medport::InputError);
  EXPECT_THROW(mi::LabelImage({2, 2}, {1.0, -1.0}), medport::InputError);
  EXPECT_THROW(mi::LabelImage({1 << 20, 1 << 20}), medport::InputError);  // absurd size refused before allocating
}

TEST(LabelImage, FromTensorAndBinaryMask) {
  const std::vector<std::int64_t> values{0, 1, 2, 3, 1, 0};
  const auto tensor = medport::Tensor::from_bytes(
      medport::DType::I64, {2, 3},
      std::span(reinterpret_cast<const std::byte*>(values.data()), values.size() * sizeof(std::int64_t)));
  const auto image = mi::label_image_from_tensor(tensor, "labels.npy", {1.0, 1.0});
  EXPECT_EQ(image.labels, (std::vector<std::uint8_t>{0, 1, 2, 3, 1, 0}));
  EXPECT_EQ(mi::binary_mask(image, 1).labels, (std::vector<std::uint8_t>{0, 1, 0, 0, 1, 0}));

  const std::vector<std::int64_t> negative{0, -1, 0, 0};
  const auto bad = medport::Tensor::from_bytes(
      medport::DType::I64, {2, 2},
      std::span(reinterpret_cast<const std::byte*>(negative.data()), negative.size() * sizeof(std::int64_t)));
  EXPECT_THROW(mi::label_image_from_tensor(bad, "bad.npy"), medport::InputError);
  const std::vector<float> floats{0, 1, 0, 1};
  EXPECT_THROW(mi::label_image_from_tensor(medport::Tensor::from_f32({2, 2}, floats), "f.npy"), medport::InputError);
  EXPECT_THROW(mi::label_image_from_tensor(medport::Tensor::from_f32({4}, floats), "f.npy"), medport::InputError);
}
