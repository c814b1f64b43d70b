// The sliding-window predictor and the per-case helpers, on a hand-made pointwise model:
// logits_k(x) = w_k * x + b_k at every voxel, so whatever the tiling, padding, mirroring,
// batching and threading, the Gaussian-weighted average must give exactly that back.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "medport/error.hpp"
#include "medport/graph/builder.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/pipelines/segment/case_runner.hpp"
#include "medport/pipelines/batch/cases.hpp"
#include "medport/pipelines/batch/progress.hpp"
#include "medport/pipelines/segment/summary.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::segment;
using medport::testing::TempDir;

constexpr float kWeights[3] = {1.0F, -2.0F, 0.5F};
constexpr float kBias[3] = {0.0F, 1.0F, -0.25F};

// A 1x1 convolution model (1 -> 3 channels) with its sidecar.
std::filesystem::path write_pointwise_model(const TempDir& dir, int dims, const std::vector<int>& patch,
                                            const std::vector<int>& mirror_axes) {
  graph::Builder b("pointwise");
  graph::Dims in{"N", 1};
  Shape weight_shape{3, 1};
  for (int d = 0; d < dims; ++d) {
    in.push_back("S" + std::to_string(d));
    weight_shape.push_back(1);
  }
  auto x = b.input("input", DType::F32, in);
  auto w = b.initializer("w", Tensor::from_f32(weight_shape, std::span<const float>(kWeights, 3)));
  auto bias = b.initializer("b", Tensor::from_f32({3}, std::span<const float>(kBias, 3)));
  b.output(b.conv(x, w, bias), "logits");
  const auto path = dir / "pointwise.onnx";
  graph::write_onnx(std::move(b).finish(), path);
  nlohmann::json side{{"model",
                       {{"input_name", "input"},
                        {"output_names", {"logits"}},
                        {"input_channels", 1},
                        {"output_channels", 3},
                        {"spatial_dims", dims}}},
                      {"labels", {{"labels", {{"background", 0}, {"LV", 1}, {"MYO", 2}}}, {"has_regions", false}}},
                      {"preprocessing", {{"patch_size", patch}, {"spacing", std::vector<double>(dims, 0.5)}}},
                      {"inference", {{"allowed_mirroring_axes", mirror_axes}, {"tile_step_size", 0.5}}}};
  write_file_atomic(dir / "pointwise.medport.json",
                    medport::testing::sidecar_envelope("nnunet", side, "pointwise.onnx").dump());
  return path;
}

std::vector<float> ramp(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::sin(0.37F * static_cast<float>(i)) + 0.001F * static_cast<float>(i);
  return v;
}

void expect_pointwise(const std::vector<float>& logits, const std::vector<float>& image) {
  ASSERT_EQ(logits.size(), 3 * image.size());
  double worst = 0;
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t i = 0; i < image.size(); ++i)
      worst = std::max(worst, std::abs(static_cast<double>(logits[k * image.size() + i]) -
                                       (kWeights[k] * static_cast<double>(image[i]) + kBias[k])));
  EXPECT_LT(worst, 1e-5);
}

TEST(SegmentPredictor, PointwiseModel2DAnySizeGivesThePointwiseFunction) {
  TempDir dir;
  const auto onnx = write_pointwise_model(dir, 2, {16, 16}, {0, 1});
  std::vector<LoadedModel> models{load_model(onnx, {})};
  for (const auto& size : std::vector<Shape>{{1, 16, 16}, {1, 9, 40}, {1, 37, 23}, {1, 5, 3}}) {
    const auto image = ramp(static_cast<std::size_t>(shape_numel(size)));
    for (bool mirror : {false, true}) {
      PredictorOptions options;
      options.mirror = mirror;
      SCOPED_TRACE(shape_string(size) + (mirror ? " mirrored" : " plain"));
      expect_pointwise(predict_logits(models, image, size, options), image);
    }
  }
}

TEST(SegmentPredictor, PointwiseModel3DWithMirroringAndSliceWise2D) {
  TempDir dir;
  const auto onnx = write_pointwise_model(dir, 3, {4, 8, 8}, {0, 1, 2});
  std::vector<LoadedModel> models{load_model(onnx, {})};
  const Shape size{1, 6, 13, 5};
  const auto image = ramp(static_cast<std::size_t>(shape_numel(size)));
  Timings timings;
  expect_pointwise(predict_logits(models, image, size, {}, &timings), image);
  EXPECT_EQ(timings.network_inputs, timings.tiles * 8);  // identity + 7 flips

  TempDir dir2;
  std::vector<LoadedModel> flat{load_model(write_pointwise_model(dir2, 2, {8, 8}, {0, 1}), {})};
  expect_pointwise(predict_logits(flat, image, size, {}), image);  // (C, Z, H, W) slice by slice
}

TEST(SegmentPredictor, BatchingAndWorkersAreBitIdentical) {
  TempDir dir;
  const auto onnx = write_pointwise_model(dir, 2, {16, 16}, {0, 1});
  std::vector<LoadedModel> models{load_model(onnx, {})};
  const Shape size{1, 50, 41};
  const auto image = ramp(static_cast<std::size_t>(shape_numel(size)));
  PredictorOptions base;
  const auto reference = predict_logits(models, image, size, base);
  for (int batch : {2, 4, 7, 16})
    for (int workers : {1, 3}) {
      PredictorOptions o;
      o.tile_batch = batch;
      o.workers = workers;
      std::int64_t last_done = 0, total = 0;
      o.progress = [&](const Progress& p) {
        last_done = p.done;
        total = p.total;
      };
      Timings t;
      EXPECT_EQ(predict_logits(models, image, size, o, &t), reference) << batch << " " << workers;
      EXPECT_EQ(last_done, total);
      // 6 x 5 tiles of 16 px over 50 x 41, 4 mirror variants each; a Run call holds whole tiles'
      // variants: batch 2 -> 2 calls per tile, 4 and 7 -> 1, 16 -> 4 tiles per call (8 calls).
      EXPECT_EQ(t.tiles, 30);
      EXPECT_EQ(t.network_inputs, 120);
      const std::map<int, std::int64_t> calls{{2, 60}, {4, 30}, {7, 30}, {16, 8}};
      EXPECT_EQ(t.run_calls, calls.at(batch)) << "batch " << batch;
    }
}

TEST(SegmentPredictor, EnsembleAveragesModels) {
  TempDir a;
  const auto onnx = write_pointwise_model(a, 2, {16, 16}, {});
  std::vector<LoadedModel> two{load_model(onnx, {}), load_model(onnx, {})};
  const Shape size{1, 20, 20};
  const auto image = ramp(400);
  expect_pointwise(predict_logits(two, image, size, {}), image);
}

TEST(SegmentPredictor, RejectsWrongInputs) {
  TempDir dir;
  std::vector<LoadedModel> models{load_model(write_pointwise_model(dir, 2, {16, 16}, {0, 1}), {})};
  const auto image = ramp(64);
  EXPECT_THROW(predict_logits(models, image, Shape{2, 4, 8}, {}), InputError);   // channels
  EXPECT_THROW(predict_logits(models, image, Shape{1, 64}, {}), InputError);      // rank
  EXPECT_THROW(predict_logits(models, image, Shape{1, 8, 9}, {}), InputError);    // numel
  EXPECT_THROW(predict_logits(models, image, Shape{1, 0, 8}, {}), InputError);    // empty
  EXPECT_THROW(predict_logits(models, image, Shape{1, 1LL << 40, 1LL << 30}, {}), InputError);
}

TEST(SegmentModelInfo, ParsesAndRejects) {
  EXPECT_THROW(parse_model_info("{", "s"), InputError);
  EXPECT_THROW(parse_model_info(R"({"format":"other"})", "s"), InputError);
  // A sidecar of the previous schema asks for a new conversion.
  try {
    parse_model_info(R"({"format":"medport-sidecar","family":"nnunet-v2"})", "s");
    ADD_FAILURE() << "old sidecar accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("re-run `medport convert`"), std::string::npos) << e.what();
  }
  const auto section = nlohmann::json::parse(R"({
    "model":{"input_channels":1,"output_channels":2,"spatial_dims":2},
    "labels":{"labels":{"background":0,"fg":1,"ignore":2}},
    "preprocessing":{"patch_size":[32,64],"spacing":[0.3,0.4]},
    "inference":{"allowed_mirroring_axes":[1]}})");
  const std::string ok = medport::testing::sidecar_envelope("nnunet", section, "m.onnx").dump();
  EXPECT_THROW(parse_model_info(medport::testing::sidecar_envelope("iris", section, "m.onnx").dump(), "s"), InputError);
  const auto info = parse_model_info(ok, "s");
  EXPECT_EQ(info.patch_size, (std::vector<std::int64_t>{32, 64}));
  EXPECT_EQ(info.allowed_mirroring_axes, std::vector<int>{1});
  ASSERT_EQ(info.labels.size(), 2u);  // "ignore" is not a label
  EXPECT_EQ(info.labels[1].name, "fg");
  auto bad = nlohmann::json::parse(ok);
  bad["nnunet"]["inference"]["allowed_mirroring_axes"] = {2};
  EXPECT_THROW(parse_model_info(bad.dump(), "s"), InputError);
  bad = nlohmann::json::parse(ok);
  bad["nnunet"]["preprocessing"]["patch_size"] = {32, -1};
  EXPECT_THROW(parse_model_info(bad.dump(), "s"), InputError);
}

TEST(SegmentSummary, ArgmaxSoftmaxConfidenceAndCounts) {
  // 3 classes x 4 voxels; voxel 3 ties between class 0 and 2 -> first wins.
  const std::vector<float> logits{0, 5, 1, 2,  //
                                  1, 0, 1, 0,  //
                                  0, 0, 3, 2};
  EXPECT_EQ(argmax_labels(logits, 3), (std::vector<std::uint8_t>{1, 0, 2, 0}));
  const auto p = softmax_probabilities(logits, 3);
  const double e = std::exp(1.0);
  EXPECT_NEAR(p[0], 1.0 / (2 + e), 1e-6);
  EXPECT_NEAR(p[4], e / (2 + e), 1e-6);
  const double max_p0 = e / (2 + e), max_p1 = 1 / (1 + 2 * std::exp(-5.0)), max_p2 = 1 / (1 + 2 * std::exp(-2.0)),
               max_p3 = 1 / (2 + std::exp(-2.0));
  EXPECT_NEAR(mean_max_probability(logits, 3), (max_p0 + max_p1 + max_p2 + max_p3) / 4, 1e-9);

  ModelInfo info;
  info.output_channels = 3;
  info.labels = {{"background", 0}, {"LV", 1}, {"MYO", 2}};
  const std::vector<std::uint8_t> labels{1, 0, 2, 0, 2, 2};
  const std::vector<double> spacing2{0.5, 0.2};
  const auto counts = count_labels(labels, info, spacing2);
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[2].name, "MYO");
  EXPECT_EQ(counts[2].voxels, 3);
  EXPECT_NEAR(counts[2].physical, 0.3, 1e-12);  // 3 px * 0.1 mm^2
  const std::vector<double> spacing3{2.0, 1.0, 1.0};
  EXPECT_NEAR(count_labels(labels, info, spacing3)[2].physical, 0.006, 1e-12);  // 6 mm^3 = 0.006 mL
  EXPECT_LT(count_labels(labels, info, {})[1].physical, 0);
}

TEST(SegmentOverlay, PaintsLabelColoursAndLegend) {
  const int h = 40, w = 50;
  std::vector<float> image(h * w, 0.0F);
  std::vector<std::uint8_t> labels(h * w, 0);
  for (int r = 10; r < 30; ++r)
    for (int c = 10; c < 20; ++c) labels[static_cast<std::size_t>(r * w + c)] = 1;
  OverlayOptions o;
  o.alpha = 1.0;
  o.min_size = 100;  // 50 px wide -> enlarged 2x
  const auto png = render_overlay_png(image, labels, h, w, {"background", "LV", "MYO"}, o);
  std::vector<std::uint8_t> raw(png.size());
  std::transform(png.begin(), png.end(), raw.begin(), [](std::byte b) { return static_cast<std::uint8_t>(b); });
  const cv::Mat decoded = cv::imdecode(raw, cv::IMREAD_COLOR);
  ASSERT_FALSE(decoded.empty());
  EXPECT_EQ(decoded.cols, 100);
  EXPECT_GT(decoded.rows, 80);  // image plus legend strip
  const auto lv = label_colour(1);
  const auto px = decoded.at<cv::Vec3b>(40, 30);  // inside the LV block (scaled 2x)
  EXPECT_EQ(px[2], lv[0]);
  EXPECT_EQ(px[1], lv[1]);
  EXPECT_EQ(px[0], lv[2]);
  EXPECT_EQ(decoded.at<cv::Vec3b>(2, 2), cv::Vec3b(0, 0, 0));  // background stays grey (black here)
  EXPECT_THROW(render_overlay_png(image, labels, h, w + 1, {}, o), InputError);
}

TEST(SegmentCases, NamesInputsAndDuration) {
  EXPECT_EQ(pipelines::batch::case_name_for("/a/b/patient0001.npy"), "patient0001");
  EXPECT_EQ(pipelines::batch::case_name_for("x.nii.gz"), "x");
  TempDir dir;
  write_file_atomic(dir / "in" / "b.npy", std::string_view("x"));
  write_file_atomic(dir / "in" / "a.npy", std::string_view("x"));
  write_file_atomic(dir / "in" / "notes.txt", std::string_view("x"));
  const std::vector<std::filesystem::path> inputs{dir / "in"};
  const auto found = collect_cases(inputs, true);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].name, "a");
  EXPECT_EQ(found[0].files.at(0).filename(), "a.npy");
  const std::vector<std::filesystem::path> twice{dir / "in", dir / "in" / "a.npy"};
  EXPECT_THROW(collect_cases(twice, true), UsageError);
  const std::vector<std::filesystem::path> missing{dir / "nope"};
  EXPECT_THROW(collect_cases(missing, true), InputError);
  // Raw folders follow nnU-Net's <case>_XXXX<ending> convention.
  write_file_atomic(dir / "raw" / "la_001_0000.png", std::string_view("x"));
  write_file_atomic(dir / "raw" / "la_001_0001.png", std::string_view("x"));
  write_file_atomic(dir / "raw" / "la_002_0000.png", std::string_view("x"));
  write_file_atomic(dir / "raw" / "la_002_0001.png", std::string_view("x"));
  const std::vector<std::filesystem::path> raw{dir / "raw"};
  const auto grouped = collect_cases(raw, false, ".png");
  ASSERT_EQ(grouped.size(), 2u);
  EXPECT_EQ(grouped[1].name, "la_002");
  EXPECT_EQ(grouped[1].files.size(), 2u);
  EXPECT_EQ(pipelines::batch::format_duration(5.25), "5.2s");
  EXPECT_EQ(pipelines::batch::format_duration(125), "2m05s");
}

}  // namespace
