// IRIS outputs (masks, components, morphology, label merging, confidence, volumes, quality,
// files) on small hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <opencv2/imgcodecs.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"
#include "test_support.hpp"

namespace {

namespace fsl = medport::pipelines::fewshot;
using fsl::Grid;

std::size_t at(const Grid& g, std::int64_t z, std::int64_t y, std::int64_t x) {
  return static_cast<std::size_t>((z * g.height + y) * g.width + x);
}

std::int64_t count(const std::vector<std::uint8_t>& m) { return std::accumulate(m.begin(), m.end(), std::int64_t{0}); }

TEST(IrisOutputs, SigmoidAndStrictThreshold) {
  const auto p = fsl::sigmoid(std::vector<float>{0.0F, std::log(3.0F), -std::log(3.0F)});
  EXPECT_FLOAT_EQ(p[0], 0.5F);
  EXPECT_NEAR(p[1], 0.75F, 1e-7);
  EXPECT_NEAR(p[2], 0.25F, 1e-7);
  // 0.5 itself is not foreground: sigmoid(logits) > 0.5, as upstream.
  EXPECT_EQ(fsl::threshold_masks(std::vector<float>{0.5F, 0.51F, 0.2F, 0.9F}, 0.5),
            (std::vector<std::uint8_t>{0, 1, 0, 1}));
}

TEST(IrisOutputs, LargestComponentDependsOnConnectivity) {
  const Grid g{2, 4, 6};
  std::vector<std::uint8_t> mask(g.voxels(), 0);
  // Blob A: a diagonal chain, one component with 26-connectivity, three singletons with 6.
  mask[at(g, 0, 0, 0)] = mask[at(g, 1, 1, 1)] = mask[at(g, 0, 2, 2)] = 1;
  // Blob B: two face neighbours, far from A.
  mask[at(g, 0, 0, 4)] = mask[at(g, 0, 0, 5)] = 1;

  auto with26 = mask;
  fsl::keep_largest_component(with26, g, 26);
  EXPECT_EQ(count(with26), 3);
  EXPECT_EQ(with26[at(g, 1, 1, 1)], 1);
  EXPECT_EQ(with26[at(g, 0, 0, 4)], 0);

  auto with6 = mask;
  fsl::keep_largest_component(with6, g, 6);
  EXPECT_EQ(count(with6), 2);
  EXPECT_EQ(with6[at(g, 0, 0, 4)], 1);
  EXPECT_EQ(with6[at(g, 0, 0, 5)], 1);

  EXPECT_THROW(fsl::keep_largest_component(mask, g, 18), medport::UsageError);
}

TEST(IrisOutputs, LargestComponentTieKeepsTheFirstInRasterOrder) {
  const Grid g{1, 3, 3};  // 2D: 26-connectivity is 8-connectivity
  std::vector<std::uint8_t> mask{1, 0, 0,  //
                                 0, 0, 0,  //
                                 0, 0, 1};
  auto m = mask;
  fsl::keep_largest_component(m, g, 26);
  EXPECT_EQ(m, (std::vector<std::uint8_t>{1, 0, 0, 0, 0, 0, 0, 0, 0}));
  std::vector<std::uint8_t> diagonal{1, 0, 0, 0, 1, 0, 0, 0, 0};
  m = diagonal;
  fsl::keep_largest_component(m, g, 26);
  EXPECT_EQ(m, diagonal);  // one 8-connected component of two pixels
  m = diagonal;
  fsl::keep_largest_component(m, g, 6);
  EXPECT_EQ(count(m), 1);
}

TEST(IrisOutputs, BallMorphologyCounts) {
  const Grid g{7, 7, 7};
  std::vector<std::uint8_t> dot(g.voxels(), 0);
  dot[at(g, 3, 3, 3)] = 1;
  auto r1 = dot;
  fsl::dilate(r1, g, 1);
  EXPECT_EQ(count(r1), 7);  // centre + 6 face neighbours
  auto r2 = dot;
  fsl::dilate(r2, g, 2);
  EXPECT_EQ(count(r2), 1 + 6 + 12 + 8 + 6);  // offsets with |d|^2 in {0,1,2,3,4}

  std::vector<std::uint8_t> cube(g.voxels(), 0);
  for (int z = 1; z < 6; ++z)
    for (int y = 1; y < 6; ++y)
      for (int x = 1; x < 6; ++x) cube[at(g, z, y, x)] = 1;
  auto eroded = cube;
  fsl::erode(eroded, g, 1);
  EXPECT_EQ(count(eroded), 27);  // the 3x3x3 core
  EXPECT_EQ(eroded[at(g, 2, 2, 2)], 1);
  EXPECT_EQ(eroded[at(g, 1, 3, 3)], 0);

  // Outside the grid counts as foreground for erosion: a full grid stays full.
  std::vector<std::uint8_t> full(g.voxels(), 1);
  fsl::erode(full, g, 2);
  EXPECT_EQ(count(full), static_cast<std::int64_t>(g.voxels()));
}

TEST(IrisOutputs, ClosingFillsHolesOpeningRemovesSpecks) {
  const Grid g{11, 11, 11};
  std::vector<std::uint8_t> cube(g.voxels(), 0);
  for (int z = 3; z < 8; ++z)
    for (int y = 3; y < 8; ++y)
      for (int x = 3; x < 8; ++x) cube[at(g, z, y, x)] = 1;
  // Closing (dilate, erode) of the cube with a one-voxel hole gives back the full cube.
  auto holed = cube;
  holed[at(g, 5, 5, 5)] = 0;
  fsl::dilate(holed, g, 1);
  fsl::erode(holed, g, 1);
  EXPECT_EQ(holed, cube);
  // Opening with the 6-neighbour ball keeps the cube minus its 12 edges and 8 corners
  // (125 - 36 - 8 = 81 voxels) and drops an isolated voxel; closing that shape changes nothing.
  auto specked = cube;
  specked[at(g, 0, 0, 10)] = 1;
  fsl::morphological_cleanup(specked, g, 1);
  EXPECT_EQ(specked[at(g, 0, 0, 10)], 0);
  EXPECT_EQ(count(specked), 81);
  EXPECT_EQ(specked[at(g, 3, 3, 3)], 0);  // a corner
  EXPECT_EQ(specked[at(g, 3, 3, 5)], 0);  // an edge
  EXPECT_EQ(specked[at(g, 3, 5, 5)], 1);  // a face centre
  auto unchanged = cube;
  fsl::morphological_cleanup(unchanged, g, 0);
  EXPECT_EQ(unchanged, cube);
}

TEST(IrisOutputs, SmallObjectsAreRemovedBelowTheSize) {
  const Grid g{1, 5, 8};
  std::vector<std::uint8_t> mask(g.voxels(), 0);
  for (std::int64_t x = 0; x < 4; ++x) mask[at(g, 0, 0, x)] = 1;  // 4 pixels
  mask[at(g, 0, 3, 6)] = mask[at(g, 0, 4, 7)] = 1;               // 2 pixels diagonally: 1 object with 26, 2 with 6
  auto m = mask;
  fsl::remove_small_objects(m, g, 3, 26);
  EXPECT_EQ(count(m), 4);  // objects of fewer than 3 pixels go, exactly 4 stays
  m = mask;
  fsl::remove_small_objects(m, g, 2, 26);
  EXPECT_EQ(count(m), 6);  // the diagonal pair is one object of 2
  m = mask;
  fsl::remove_small_objects(m, g, 2, 6);
  EXPECT_EQ(count(m), 4);  // ... two objects of 1 with faces only
  m = mask;
  fsl::remove_small_objects(m, g, 5, 26);
  EXPECT_EQ(count(m), 0);
}

TEST(IrisOutputs, FillHolesFillsEnclosedBackgroundOnly) {
  // 2D: a ring with a hole, and a C shape whose gap reaches the border.
  const Grid g{1, 7, 9};
  std::vector<std::uint8_t> mask(g.voxels(), 0);
  for (std::int64_t y = 1; y <= 4; ++y)
    for (std::int64_t x = 1; x <= 4; ++x)
      if (y == 1 || y == 4 || x == 1 || x == 4) mask[at(g, 0, y, x)] = 1;
  for (std::int64_t y = 0; y <= 6; ++y) mask[at(g, 0, y, 7)] = 1;  // a wall touching the border
  auto m = mask;
  fsl::fill_holes(m, g);
  EXPECT_EQ(m[at(g, 0, 2, 2)], 1);
  EXPECT_EQ(m[at(g, 0, 3, 3)], 1);
  EXPECT_EQ(count(m), count(mask) + 4);
  EXPECT_EQ(m[at(g, 0, 3, 8)], 0);  // beyond the wall: touches the border
  // 3D: a hollow cube's inside is filled; a 2D image's slice is not a border of the hole.
  const Grid c{5, 5, 5};
  std::vector<std::uint8_t> cube(c.voxels(), 0);
  for (std::int64_t z = 1; z <= 3; ++z)
    for (std::int64_t y = 1; y <= 3; ++y)
      for (std::int64_t x = 1; x <= 3; ++x) cube[at(c, z, y, x)] = (z == 2 && y == 2 && x == 2) ? 0 : 1;
  fsl::fill_holes(cube, c);
  EXPECT_EQ(count(cube), 27);
  // A hole open along z (a tube) is not filled in 3D.
  std::vector<std::uint8_t> tube(c.voxels(), 0);
  for (std::int64_t z = 0; z < 5; ++z)
    for (std::int64_t y = 1; y <= 3; ++y)
      for (std::int64_t x = 1; x <= 3; ++x) tube[at(c, z, y, x)] = (y == 2 && x == 2) ? 0 : 1;
  auto t = tube;
  fsl::fill_holes(t, c);
  EXPECT_EQ(t, tube);
}

TEST(IrisOutputs, PostProcessingOrder) {
  // threshold -> small objects -> fill holes -> largest component: a ring with a hole of 1 pixel
  // and a 2-pixel speck; min 3 pixels removes the speck, the hole is filled, one component stays.
  const Grid g{1, 6, 8};
  std::vector<float> p(g.voxels(), 0.1F);
  for (std::int64_t y = 1; y <= 3; ++y)
    for (std::int64_t x = 1; x <= 3; ++x) p[at(g, 0, y, x)] = (y == 2 && x == 2) ? 0.2F : 0.9F;
  p[at(g, 0, 5, 6)] = p[at(g, 0, 5, 7)] = 0.8F;
  fsl::MaskOptions o;
  o.min_object_voxels = 3;
  o.fill_holes = true;
  const auto m = fsl::make_class_masks(p, 1, g, o);
  EXPECT_EQ(count(m), 9);
  EXPECT_EQ(m[at(g, 0, 2, 2)], 1);
  EXPECT_EQ(m[at(g, 0, 5, 6)], 0);
}

TEST(IrisOutputs, MakeClassMasksPerClass) {
  const Grid g{1, 1, 5};
  // Class 0: two blobs (sizes 2 and 1); class 1: one voxel above threshold.
  const std::vector<float> probs{0.9F, 0.8F, 0.1F, 0.7F, 0.2F,  //
                                 0.1F, 0.1F, 0.6F, 0.4F, 0.5F};
  fsl::MaskOptions options;
  options.largest_component = true;
  const auto masks = fsl::make_class_masks(probs, 2, g, options);
  EXPECT_EQ(masks, (std::vector<std::uint8_t>{1, 1, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_THROW(fsl::make_class_masks(probs, 3, g, options), medport::UsageError);
}

TEST(IrisOutputs, MergeLabelsResolvesOverlapsByProbability) {
  // Voxels: both set (p 0.7 / 0.9), only class 0, none, both set with a tie.
  const std::vector<std::uint8_t> masks{1, 1, 0, 1, 1, 0, 0, 1};
  const std::vector<float> probs{0.7F, 0.8F, 0.3F, 0.6F, 0.9F, 0.2F, 0.1F, 0.6F};
  EXPECT_EQ(fsl::merge_labels(masks, probs, 2), (std::vector<std::uint8_t>{2, 1, 0, 1}));
  const std::vector<std::int64_t> values{3, 7};
  const auto labels = fsl::merge_labels(masks, probs, 2, values);
  EXPECT_EQ(labels, (std::vector<std::uint8_t>{7, 3, 0, 3}));
  // Confidence: p of the winning class; background: 1 - max p.
  const auto conf = fsl::confidence_map(probs, labels, 2, values);
  EXPECT_FLOAT_EQ(conf[0], 0.9F);
  EXPECT_FLOAT_EQ(conf[1], 0.8F);
  EXPECT_FLOAT_EQ(conf[2], 0.7F);
  EXPECT_FLOAT_EQ(conf[3], 0.6F);
  EXPECT_THROW(fsl::merge_labels(masks, probs, 2, std::vector<std::int64_t>{1, 256}), medport::UsageError);
}

TEST(IrisOutputs, ConfidenceVolumesAndDice) {
  EXPECT_DOUBLE_EQ(fsl::mean_binary_confidence(std::vector<float>{0.75F, 0.25F, 0.5F, 1.0F}), (0.75 + 0.75 + 0.5 + 1.0) / 4);
  const Grid g{2, 2, 2};
  const std::vector<std::uint8_t> masks{1, 1, 1, 0, 0, 0, 0, 0,  //
                                        0, 0, 0, 0, 0, 0, 0, 1};
  std::vector<float> probs(16, 0.0F);
  probs[0] = probs[1] = probs[2] = 1.0F;  // class 0: three sure voxels, five sure zeros
  probs[15] = 0.75F;                      // class 1: one voxel at 0.75, seven at 0 (confidence 1)
  const std::vector<double> spacing{2.0, 2.0, 2.5};  // 10 mm^3 per voxel
  const auto stats = fsl::class_statistics(masks, probs, 2, g, spacing);
  EXPECT_EQ(stats[0].voxels, 3);
  EXPECT_DOUBLE_EQ(stats[0].volume_ml, 0.03);
  EXPECT_DOUBLE_EQ(stats[0].fraction, 3.0 / 8.0);
  EXPECT_DOUBLE_EQ(stats[0].mean_confidence, 1.0);
  EXPECT_EQ(stats[1].voxels, 1);
  EXPECT_DOUBLE_EQ(stats[1].volume_ml, 0.01);
  EXPECT_DOUBLE_EQ(stats[1].mean_confidence, (7.0 + 0.75) / 8.0);

  EXPECT_DOUBLE_EQ(*fsl::dice(std::vector<std::uint8_t>{1, 1, 0, 0}, std::vector<std::uint8_t>{1, 0, 1, 0}), 0.5);
  EXPECT_FALSE(fsl::dice(std::vector<std::uint8_t>{0, 0}, std::vector<std::uint8_t>{0, 0}).has_value());
}

TEST(IrisOutputs, QualityChecks) {
  const auto good = fsl::check_quality(0.9, 0.1, {});
  EXPECT_TRUE(good.passed);
  ASSERT_EQ(good.checks.size(), 2U);
  EXPECT_EQ(good.checks[0].name, "min_confidence");
  EXPECT_EQ(good.checks[1].name, "max_volume_ratio");

  const auto bad = fsl::check_quality(0.6, 0.85, {});
  EXPECT_FALSE(bad.passed);
  EXPECT_FALSE(bad.checks[0].passed);
  EXPECT_NE(bad.checks[0].reason.find("low confidence"), std::string::npos);
  EXPECT_FALSE(bad.checks[1].passed);
  EXPECT_NE(bad.checks[1].reason.find("85%"), std::string::npos);

  fsl::QualityOptions only_volume;
  only_volume.min_confidence.reset();
  only_volume.max_volume_ratio = 0.9;
  const auto r = fsl::check_quality(0.1, 0.85, only_volume);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.checks.size(), 1U);
}

TEST(IrisOutputs, MontageSlicesAreEvenlySpread) {
  EXPECT_EQ(fsl::montage_slices(16, 9), (std::vector<std::int64_t>{0, 2, 4, 6, 8, 9, 11, 13, 15}));
  EXPECT_EQ(fsl::montage_slices(4, 9), (std::vector<std::int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(fsl::montage_slices(1, 9), (std::vector<std::int64_t>{0}));
}

TEST(IrisOutputs, MontagePngShowsTheLabelColours) {
  const Grid g{4, 32, 48};
  std::vector<float> image(g.voxels());
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>(i % 48);
  std::vector<std::uint8_t> labels(g.voxels(), 0);
  for (int z = 0; z < 4; ++z)
    for (int y = 8; y < 24; ++y)
      for (int x = 8; x < 20; ++x) labels[at(g, z, y, x)] = 1;
  fsl::MontageOptions options;
  options.slices = 4;
  options.tile_size = 96;
  options.title = "case";
  const std::vector<std::int64_t> values{1};
  const auto png = fsl::render_montage_png(image, labels, g, {"liver"}, {"1.00 mL"}, values, options);
  std::vector<std::uint8_t> raw(png.size());
  std::transform(png.begin(), png.end(), raw.begin(), [](std::byte b) { return static_cast<std::uint8_t>(b); });
  const cv::Mat decoded = cv::imdecode(raw, cv::IMREAD_COLOR);
  ASSERT_FALSE(decoded.empty());
  EXPECT_GE(decoded.cols, 2 * 96);
  EXPECT_GE(decoded.rows, 2 * 64);
  // Some pixel is tinted towards label 1's red (230, 57, 70): red clearly above green.
  bool tinted = false;
  for (int r = 0; r < decoded.rows && !tinted; ++r)
    for (int c = 0; c < decoded.cols && !tinted; ++c) {
      const auto p = decoded.at<cv::Vec3b>(r, c);
      tinted = p[2] > p[1] + 60;
    }
  EXPECT_TRUE(tinted);
  EXPECT_THROW(fsl::render_montage_png(image, std::vector<std::uint8_t>(3), g, {}, {}, values, options),
               medport::UsageError);
  // Rows twice as far apart as columns: 32x48 slices become 96 px tall, 72 px wide tiles; the
  // page is 30 (title) + 2 x (96 + 6) (tiles) + 22 + 12 (legend) = 268 px tall.
  options.pixel_aspect = 2.0;
  const auto tall_png = fsl::render_montage_png(image, labels, g, {"liver"}, {}, values, options);
  std::vector<std::uint8_t> tall_raw(tall_png.size());
  std::transform(tall_png.begin(), tall_png.end(), tall_raw.begin(), [](std::byte b) { return static_cast<std::uint8_t>(b); });
  EXPECT_EQ(cv::imdecode(tall_raw, cv::IMREAD_COLOR).rows, 268);
}

TEST(IrisOutputs, LabelWritersRoundTrip) {
  medport::testing::TempDir tmp;
  medport::imaging::LabelImage labels({2, 3, 4}, {2.0, 1.0, 0.5});
  for (std::size_t i = 0; i < labels.labels.size(); ++i) labels.labels[i] = static_cast<std::uint8_t>(i % 3);
  medport::imaging::Image reference;  // not a NIfTI source: identity header with the spacing
  reference.shape = {1, 2, 3, 4};
  reference.spacing = {2.0, 1.0, 0.5};

  const auto npy = fsl::write_labels(tmp / "a", labels, reference, fsl::LabelFormat::Npy);
  ASSERT_EQ(npy.size(), 1U);
  EXPECT_EQ(npy[0].filename(), "a.npy");
  const auto t = medport::ckpt::read_npy_file(npy[0]);
  EXPECT_EQ(t.shape(), (medport::Shape{2, 3, 4}));
  EXPECT_EQ(t.to_f32()[5], 2.0F);

  const auto nii = fsl::write_labels(tmp / "a", labels, reference, fsl::LabelFormat::NiftiGz);
  EXPECT_EQ(nii[0].filename(), "a.nii.gz");
  const auto back = medport::imaging::read_image(nii[0]);
  EXPECT_EQ(back.spatial_shape(), (medport::Shape{2, 3, 4}));
  EXPECT_EQ(back.spacing, (std::vector<double>{2.0, 1.0, 0.5}));
  EXPECT_EQ(back.data[4], 1.0F);

  const auto png = fsl::write_labels(tmp / "slices", labels, reference, fsl::LabelFormat::Png);
  EXPECT_TRUE(std::filesystem::is_regular_file(tmp / "slices" / "slice_000.png"));
  EXPECT_TRUE(std::filesystem::is_regular_file(tmp / "slices" / "slice_001.png"));
  EXPECT_FALSE(std::filesystem::exists(tmp / "slices" / "slice_002.png"));
  const cv::Mat slice = cv::imread((tmp / "slices" / "slice_001.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(slice.at<std::uint8_t>(0, 0), 12 % 3);

  EXPECT_EQ(fsl::parse_label_format("nii.gz"), fsl::LabelFormat::NiftiGz);
  EXPECT_THROW(fsl::parse_label_format("jpg"), medport::UsageError);
}

}  // namespace
