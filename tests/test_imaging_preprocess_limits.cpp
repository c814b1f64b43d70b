// nnU-Net preprocessing refuses, before resampling anything, what would make later stages
// allocate without bound: a spacing that resamples to more than 2^28 values, and a 2-D image given
// to a 3-D configuration (nnU-Net's 999 x spacing slice stretched into hundreds of copies).
#include <gtest/gtest.h>

#include "medport/error.hpp"
#include "medport/imaging/nnunet_preprocessing.hpp"

namespace {

using namespace medport::imaging;

Image image_2d(double spacing) {
  Image img;
  img.shape = {1, 64, 64};
  img.data.assign(64 * 64, 1.0F);
  img.spacing = {spacing, spacing};
  img.source = "echo.png";
  return img;
}

nnunet::PreprocessingConfig config(std::vector<double> target) {
  nnunet::PreprocessingConfig c;
  c.normalization.resize(1);
  c.target_spacing = std::move(target);
  return c;
}

std::string refusal(const Image& img, const nnunet::PreprocessingConfig& c) {
  try {
    nnunet::preprocess(img, c);
  } catch (const medport::InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(PreprocessLimits, AbsurdSpacingIsRefusedBeforeResampling) {
  EXPECT_EQ(nnunet::preprocess(image_2d(0.3), config({0.9, 0.9})).shape, (medport::Shape{1, 1, 21, 21}));
  const auto e = refusal(image_2d(1000.0), config({0.9, 0.9}));
  EXPECT_NE(e.find("echo.png: spacing 1000,1000 mm"), std::string::npos) << e;
  EXPECT_NE(e.find("more than the 2^28 voxels"), std::string::npos) << e;
}

TEST(PreprocessLimits, TwoDimensionalImageForAThreeDimensionalModelIsRefused) {
  const auto e = refusal(image_2d(0.3), config({3.0, 0.9, 0.9}));
  EXPECT_NE(e.find("echo.png: is a 2-D image but the model is 3-D: it would become 100 copies"), std::string::npos) << e;
  // A 3-D configuration trained on 2-D data (slice spacing 999 x in-plane) keeps one slice.
  EXPECT_EQ(nnunet::preprocess(image_2d(0.3), config({999 * 0.3, 0.9, 0.9})).shape, (medport::Shape{1, 1, 21, 21}));
}

}  // namespace
