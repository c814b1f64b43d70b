// Whole-model behaviour in ONNX Runtime: dynamic axes, external data files, the fp16 pass.
#include <algorithm>
#include <cmath>

#include "medport/graph/fp16.hpp"
#include "medport/util/file_io.hpp"
#include "test_graphrun_support.hpp"

namespace {

using namespace graphrun;

// A small nnU-Net-like stage: (conv 3x3 -> instance norm -> leaky relu) x2 -> conv 1x1 -> softmax.
Graph segmenter() {
  Builder b("segmenter");
  const auto x = b.input("image", DType::F32, {"N", 2, "H", "W"});
  ConvOptions same;
  same.pads = symmetric_pads({1, 1});
  Value y = x;
  std::int64_t in_channels = 2;
  for (int i = 0; i < 2; ++i) {
    auto s = b.scope("stages." + std::to_string(i));
    const std::string p = "stages." + std::to_string(i);
    const auto w = b.initializer(p + ".conv.weight", random_tensor({8, in_channels, 3, 3}, 100 + i, -0.5f, 0.5f));
    const auto bias = b.initializer(p + ".conv.bias", random_tensor({8}, 110 + i, -0.1f, 0.1f));
    y = b.conv(y, w, bias, same, "conv");
    const auto gamma = b.initializer(p + ".norm.weight", random_tensor({8}, 120 + i, 0.5f, 1.5f));
    const auto beta = b.initializer(p + ".norm.bias", random_tensor({8}, 130 + i, -0.2f, 0.2f));
    y = b.leaky_relu(b.instance_norm(y, gamma, beta, 1e-5f, "norm"), 0.01f, "nonlin");
    in_channels = 8;
  }
  const auto head = b.initializer("seg.weight", random_tensor({3, 8, 1, 1}, 140, -1.0f, 1.0f));
  const auto logits = b.conv(y, head, std::nullopt, {}, "seg");
  b.output(logits, "logits", Dims{"N", 3, "H", "W"});
  b.output(b.softmax(logits, 1, "probabilities"), "probabilities", Dims{"N", 3, "H", "W"});
  return std::move(b).finish();
}

std::vector<std::int64_t> channel_argmax(const Tensor& t) {
  const auto v = t.to_f32();
  const auto& s = t.shape();
  const std::int64_t n = s[0], c = s[1], hw = s[2] * s[3];
  std::vector<std::int64_t> out;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t i = 0; i < hw; ++i) {
      std::int64_t best = 0;
      for (std::int64_t k = 1; k < c; ++k)
        if (v[static_cast<std::size_t>((b * c + k) * hw + i)] > v[static_cast<std::size_t>((b * c + best) * hw + i)])
          best = k;
      out.push_back(best);
    }
  return out;
}

float relative_error(const Tensor& got, const Tensor& want) {
  const auto g = got.to_f32(), w = want.to_f32();
  float max_diff = 0, max_abs = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    max_diff = std::max(max_diff, std::fabs(g[i] - w[i]));
    max_abs = std::max(max_abs, std::fabs(w[i]));
  }
  return max_diff / max_abs;
}

TEST(GraphRunModel, DynamicAxesRunAtTwoSizes) {
  const Graph g = segmenter();
  runtime::Session session(to_model_bytes(g), one_thread());
  for (const Shape& shape : {Shape{1, 2, 16, 16}, Shape{2, 2, 12, 20}}) {
    const auto outs = session.run({{"image", random_tensor(shape, 7)}});
    EXPECT_EQ(output(outs, "logits").shape(), (Shape{shape[0], 3, shape[2], shape[3]}));
    // Softmax over channels sums to one everywhere.
    const auto p = output(outs, "probabilities").to_f32();
    const std::int64_t hw = shape[2] * shape[3];
    for (std::int64_t b = 0; b < shape[0]; ++b)
      for (std::int64_t i = 0; i < hw; i += 7) {
        float sum = 0;
        for (int k = 0; k < 3; ++k) sum += p[static_cast<std::size_t>((b * 3 + k) * hw + i)];
        EXPECT_NEAR(sum, 1.0f, 1e-5f);
      }
  }
}

TEST(GraphRunModel, ExternalDataModelRunsFromItsFolder) {
  const Graph g = segmenter();
  medport::testing::TempDir dir;
  WriteOptions external;
  external.external_data = ExternalData::Always;
  external.external_min_tensor_bytes = 0;
  const auto result = write_onnx(g, dir / "segmenter.onnx", external);
  ASSERT_FALSE(result.data_path.empty());
  EXPECT_EQ(result.external_tensors, g.initializers.size());
  const Tensor image = random_tensor({1, 2, 16, 16}, 8);
  runtime::Session from_file(dir / "segmenter.onnx", one_thread());
  runtime::Session inline_model(to_model_bytes(g), one_thread());
  const auto a = from_file.run({{"image", image}});
  const auto b = inline_model.run({{"image", image}});
  EXPECT_EQ(output(a, "logits").to_f32(), output(b, "logits").to_f32());
  // The data file is what the model reads: corrupting it changes the result.
  {
    auto bytes = medport::read_file(result.data_path);
    std::fill(bytes.begin(), bytes.end(), std::byte{0});
    medport::write_file_atomic(result.data_path, bytes);
  }
  runtime::Session zeroed(dir / "segmenter.onnx", one_thread());
  EXPECT_NE(output(zeroed.run({{"image", image}}), "logits").to_f32(), output(b, "logits").to_f32());
}

void check_fp16_against_fp32(const runtime::SessionOptions& options) {
  const Graph g32 = segmenter();
  const Graph g16 = convert_to_fp16(g32);
  runtime::Session s32(to_model_bytes(g32), options);
  runtime::Session s16(to_model_bytes(g16), options);
  const Tensor image = random_tensor({1, 2, 32, 32}, 9, -2.0f, 2.0f);
  const auto o32 = s32.run({{"image", image}});
  const auto o16 = s16.run({{"image", image}});
  const Tensor l32 = output(o32, "logits"), l16 = output(o16, "logits");
  EXPECT_EQ(l16.dtype(), DType::F32);  // float32 interface kept
  EXPECT_LT(relative_error(l16, l32), 1e-2f);
  EXPECT_LT(relative_error(output(o16, "probabilities"), output(o32, "probabilities")), 1e-2f);
  const auto a32 = channel_argmax(l32), a16 = channel_argmax(l16);
  std::size_t same = 0;
  for (std::size_t i = 0; i < a32.size(); ++i) same += a32[i] == a16[i];
  EXPECT_GE(static_cast<double>(same) / static_cast<double>(a32.size()), 0.99);
}

TEST(GraphRunModel, Fp16KeepsTimestepEmbeddingsExact) {
  // guided-diffusion's timestep_embedding(t, 128) followed by a Linear, as its UNet builds it.
  Builder b("embedding");
  const auto t = b.input("t", DType::I64, {"N"});
  std::vector<float> freqs(64);
  for (int i = 0; i < 64; ++i) freqs[static_cast<std::size_t>(i)] = static_cast<float>(std::exp(-std::log(10000.0) * i / 64));
  const auto args = b.mul(b.unsqueeze(b.cast(t, DType::F32), {1}), b.const_f32(freqs, {1, 64}));
  const auto emb = b.concat({b.cos(args), b.sin(args)}, 1);
  const auto w = b.initializer("w", random_tensor({16, 128}, 5, -0.1f, 0.1f));
  b.output(b.linear(emb, w, std::nullopt), "out", Dims{"N", 16});
  const Graph g32 = std::move(b).finish();
  const std::vector<std::int64_t> tv{0, 501, 999};
  const Tensor ts = Tensor::from_bytes(DType::I64, {3}, std::as_bytes(std::span(tv.data(), tv.size())));
  const auto o32 = run(g32, {{"t", ts}});
  const auto o16 = run(convert_to_fp16(g32), {{"t", ts}});
  const auto a = output(o32, "out").to_f32(), h = output(o16, "out").to_f32();
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(h[i], a[i], 5e-3f) << i;
}

TEST(GraphRunModel, Fp16ModelTracksTheFloat32ModelOnCpu) { check_fp16_against_fp32(one_thread()); }

TEST(GraphRunModel, Fp16ModelTracksTheFloat32ModelOnCuda) {
  if (!runtime::cuda_provider_available()) GTEST_SKIP() << "no CUDA execution provider on this machine";
  runtime::SessionOptions cuda;
  cuda.provider = runtime::Provider::Cuda;
  check_fp16_against_fp32(cuda);
}

}  // namespace
