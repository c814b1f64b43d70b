// The bytes medport writes for Core ML: weight.bin records (sentinel, dtype, sizes, offsets,
// 64-byte alignment) checked here independently of the writer's code, reproducible packages,
// and the errors for what Core ML or a target cannot express.
#include <cstring>
#include <fstream>

#include "../src/export/coreml/blob_storage.hpp"
#include "coreml_test.hpp"
#include "medport/error.hpp"
#include "medport/export/open_model.hpp"
#include "medport/graph/builder.hpp"

using namespace medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

template <class T>
T at(const std::string& b, std::size_t offset) {
  T v;
  std::memcpy(&v, b.data() + offset, sizeof(T));
  return v;
}

Tensor ramp(std::int64_t n, float scale) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = scale * (static_cast<float>(i) - 7.25f);
  return Tensor::from_f32({n}, v);
}

// A small conv net with a dynamic batch.
graph::Graph tiny_graph() {
  graph::Builder b("tiny");
  auto x = b.input("image", DType::F32, {"N", 3, 16, 16});
  std::vector<float> w(8 * 3 * 3 * 3);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::sin(static_cast<float>(i));
  graph::ConvOptions o;
  o.pads = graph::symmetric_pads({1, 1});
  auto y = b.conv(x, b.initializer("conv.weight", Tensor::from_f32({8, 3, 3, 3}, w)),
                  b.initializer("conv.bias", ramp(8, 0.1f)), o);
  b.output(b.relu(y), "features");
  return std::move(b).finish();
}

coreml::WriteOptions tiny_options() {
  coreml::WriteOptions o;
  o.input_shapes["image"].fixed = {1, 3, 16, 16};
  return o;
}

}  // namespace

TEST(CoreMLBlobFile, RecordsFollowTheStorageFormat) {
  TempDir dir;
  coreml::BlobPlan plan;
  const Tensor a = ramp(10, 1.0f), b = ramp(33, 0.5f), c = ramp(100, -2.0f);
  const auto oa = plan.add(a, coreml::BlobDType::Float32);
  const auto ob = plan.add(b, coreml::BlobDType::Float16);
  const auto oc = plan.add(c, coreml::BlobDType::Float32);
  coreml::write_blob_file(plan, dir / "weight.bin");
  const std::string f = bytes_of(dir / "weight.bin");
  EXPECT_EQ(at<std::uint32_t>(f, 0), 3u);  // count
  EXPECT_EQ(at<std::uint32_t>(f, 4), 2u);  // version
  EXPECT_EQ(oa, 64u);                      // first record right after the header
  struct Want {
    std::uint64_t offset;
    std::uint32_t dtype;
    std::uint64_t size;
    const Tensor* t;
  };
  for (const Want& w : {Want{oa, 2, 40, &a}, Want{ob, 1, 66, &b}, Want{oc, 2, 400, &c}}) {
    SCOPED_TRACE(w.offset);
    EXPECT_EQ(w.offset % 64, 0u);
    EXPECT_EQ(at<std::uint32_t>(f, w.offset), 0xDEADBEEFu);
    EXPECT_EQ(at<std::uint32_t>(f, w.offset + 4), w.dtype);
    EXPECT_EQ(at<std::uint64_t>(f, w.offset + 8), w.size);
    const auto data = at<std::uint64_t>(f, w.offset + 16);
    EXPECT_EQ(data % 64, 0u);
    EXPECT_EQ(data, w.offset + 64);
    for (std::size_t k = 24; k < 64; k += 8) EXPECT_EQ(at<std::uint64_t>(f, w.offset + k), 0u);
    const auto values = w.t->to_f32();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (w.dtype == 2) {
        EXPECT_EQ(at<float>(f, data + 4 * i), values[i]);
      } else {
        EXPECT_EQ(at<std::uint16_t>(f, data + 2 * i), float_to_half(values[i]));
      }
    }
  }
  EXPECT_EQ(f.size(), oc + 64 + 400);

  const coreml::BlobReader reader(dir / "weight.bin");
  EXPECT_EQ(reader.metadata_offsets(), (std::vector<std::uint64_t>{oa, ob, oc}));
  EXPECT_EQ(reader.tensor(oc, {10, 10}).to_f32(), c.to_f32());
  EXPECT_THROW(reader.tensor(oc, {10, 11}), InputError);
  EXPECT_THROW(reader.blob(oa + 8), InputError);  // not a record
}

TEST(CoreMLBlobFile, DamagedFilesAreRefused) {
  TempDir dir;
  coreml::BlobPlan plan;
  plan.add(ramp(16, 1.0f), coreml::BlobDType::Float32);
  coreml::write_blob_file(plan, dir / "weight.bin");
  std::string f = bytes_of(dir / "weight.bin");
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  };
  std::string bad_sentinel = f;
  bad_sentinel[64] = 0;
  EXPECT_THROW(coreml::BlobReader(write("s.bin", bad_sentinel)).blob(64), InputError);
  std::string bad_version = f;
  bad_version[4] = 3;
  EXPECT_THROW(coreml::BlobReader{write("v.bin", bad_version)}, InputError);
  EXPECT_THROW(coreml::BlobReader(write("t.bin", f.substr(0, 140))).blob(64), InputError);  // data cut short
  std::string bad_dtype = f;
  bad_dtype[68] = 9;
  EXPECT_THROW(coreml::BlobReader(write("d.bin", bad_dtype)).blob(64), InputError);
}

TEST(CoreMLPackage, TwoWritesAreByteIdentical) {
  TempDir dir;
  const auto g = tiny_graph();
  const auto r1 = coreml::write_coreml(g, dir / "a.mlpackage", tiny_options());
  const auto r2 = coreml::write_coreml(g, dir / "b.mlpackage", tiny_options());
  ASSERT_EQ(r1.files.size(), 3u);
  for (std::size_t i = 0; i < r1.files.size(); ++i) {
    EXPECT_EQ(fs::relative(r1.files[i], dir / "a.mlpackage"), fs::relative(r2.files[i], dir / "b.mlpackage"));
    EXPECT_EQ(bytes_of(r1.files[i]), bytes_of(r2.files[i])) << r1.files[i];
  }
  const auto manifest = medport::testing::read_json(dir / "a.mlpackage" / "Manifest.json");
  const std::string root = manifest["rootModelIdentifier"];
  EXPECT_EQ(root.size(), 36u);
  EXPECT_EQ(manifest["itemInfoEntries"][root]["path"], "com.apple.CoreML/model.mlmodel");
  // Different weights, different identifiers.
  auto g2 = g;
  g2.initializers[1].tensor = ramp(8, 0.2f);
  coreml::write_coreml(g2, dir / "c.mlpackage", tiny_options());
  EXPECT_NE(medport::testing::read_json(dir / "c.mlpackage" / "Manifest.json")["rootModelIdentifier"], root);
}

TEST(CoreMLPackage, RewritingReplacesThePackageWhole) {
  TempDir dir;
  const auto path = dir / "m.mlpackage";
  coreml::write_coreml(tiny_graph(), path, tiny_options());
  std::ofstream(path / "stray.txt") << "left from before";
  coreml::write_coreml(tiny_graph(), path, tiny_options());
  EXPECT_FALSE(fs::exists(path / "stray.txt"));
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename(), "m.mlpackage") << "left behind: " << e.path();
}

TEST(CoreMLPackage, SymbolicLinksInsideAreNotFollowed) {
  TempDir dir;
  const auto path = dir / "m.mlpackage";
  coreml::write_coreml(tiny_graph(), path, tiny_options());
  EXPECT_NO_THROW(medport::exporters::open_model(path));
  fs::create_directory_symlink(path, dir / "link.mlpackage");  // a link to the package itself is fine
  EXPECT_NO_THROW(medport::exporters::open_model(dir / "link.mlpackage"));
  const auto weights = path / "Data/com.apple.CoreML/weights/weight.bin";
  fs::rename(weights, dir / "elsewhere.bin");
  fs::create_symlink(dir / "elsewhere.bin", weights);
  try {
    medport::exporters::open_model(path);
    ADD_FAILURE() << "a linked weight.bin was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("weight.bin: a symbolic link inside a Core ML package"), std::string::npos) << e.what();
  }
  fs::rename(path / "Data", dir / "Data");
  fs::create_directory_symlink(dir / "Data", path / "Data");
  EXPECT_THROW(medport::exporters::open_model(path), InputError);
}

// A .mlmodel is one protobuf message, which cannot exceed 2 GiB: refused before a weight is read
// (the weight's loader would throw) and before anything is written.
TEST(CoreMLNeuralNetworkLimits, OverTwoGibibytesIsRefusedBeforeReading) {
  TempDir dir;
  constexpr std::int64_t n = std::int64_t{600} << 20;  // 2.3 GiB of float32
  auto storage = std::make_shared<const Storage>(DType::F32, static_cast<std::size_t>(n) * 4, []() -> ByteView {
    throw std::runtime_error("the weight was read");
  });
  graph::Builder b("huge");
  auto x = b.input("x", DType::F32, {1, n});
  b.output(b.mul(x, b.initializer("scale", Tensor(storage, 0, {1, n}, {n, 1}))), "y");
  const auto g = std::move(b).finish();
  coreml::WriteOptions o;
  o.backend = coreml::Backend::NeuralNetwork;
  o.target = coreml::default_target(coreml::Backend::NeuralNetwork);
  o.fp16 = false;  // float32 weights: 2.3 GiB
  o.input_shapes["x"].fixed = {1, n};
  std::string refusal = "(nothing refused)";
  try {
    coreml::write_coreml(g, dir / "huge.mlmodel", o);
  } catch (const UsageError& e) {
    refusal = e.what();
  }
  for (const char* words : {"huge.mlmodel", "2 GiB", "--backend mlprogram"})
    EXPECT_NE(refusal.find(words), std::string::npos) << refusal;
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(CoreMLErrors, WhatCoreMLOrTheTargetCannotExpress) {
  TempDir dir;
  const auto g = tiny_graph();
  // A dynamic batch with no shape given.
  EXPECT_THROW(coreml::write_coreml(g, dir / "a.mlpackage", coreml::WriteOptions{}), UsageError);
  // float16 I/O needs iOS16.
  auto o = tiny_options();
  o.fp16_io = true;
  try {
    coreml::write_coreml(g, dir / "b.mlpackage", o);
    FAIL() << "fp16 I/O on iOS15 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("iOS16"), std::string::npos) << e.what();
  }
  o.target = coreml::parse_target("iOS16");
  EXPECT_NO_THROW(coreml::write_coreml(g, dir / "b.mlpackage", o));
  // An op Core ML has no form for, named in the message.
  graph::Builder b("odd");
  auto x = b.input("x", DType::F32, {4});
  b.output(b.op1("Det", {b.reshape(x, {2, 2})}), "y");
  try {
    coreml::write_coreml(std::move(b).finish(), dir / "c.mlpackage", coreml::WriteOptions{});
    FAIL() << "Det accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("Det"), std::string::npos) << e.what();
  }
  // Wrong file kinds, targets too old for ML Programs.
  EXPECT_THROW(coreml::write_coreml(g, dir / "d.mlmodel", tiny_options()), UsageError);
  auto old = tiny_options();
  old.target = coreml::parse_target("iOS14");
  EXPECT_THROW(coreml::write_coreml(g, dir / "e.mlpackage", old), UsageError);
  EXPECT_THROW(coreml::parse_target("iOS12"), UsageError);
}

TEST(CoreMLOptions, ShapeFlagsParse) {
  EXPECT_EQ(coreml::parse_input_shapes("input=1,1,256,256;t=1").at("t"), (Shape{1}));
  const auto r = coreml::parse_shape_ranges("x=1,3,64:512,64:*").at("x");
  EXPECT_EQ(r[2].lower, 64);
  EXPECT_EQ(r[2].upper, 512);
  EXPECT_EQ(r[3].upper, -1);
  EXPECT_EQ(coreml::parse_enumerated_shapes("x=1,3,8,8|1,3,16,16").at("x").size(), 2u);
  EXPECT_THROW(coreml::parse_input_shapes("input=1,0"), UsageError);
  EXPECT_THROW(coreml::parse_shape_ranges("x=1,9:3"), UsageError);
  EXPECT_THROW(coreml::parse_enumerated_shapes("x=1,3|1"), UsageError);
  EXPECT_EQ(coreml::parse_target("macOS13").specification_version, 7);
  EXPECT_EQ(coreml::parse_target("iOS18").opset(), "CoreML8");
}

#include "medport/export/open_model.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/runtime/session.hpp"

namespace {

Tensor random_tensor(Shape shape, std::uint32_t seed, float scale = 1.0f) {
  std::vector<float> v(static_cast<std::size_t>(shape_numel(shape)));
  std::uint32_t s = seed * 2654435761u + 12345u;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = scale * (static_cast<float>(s >> 8) / 16777216.0f - 0.5f);
  }
  return Tensor::from_f32(std::move(shape), v);
}

// The ops classifiers and transformers use (timm-style stem, squeeze-excite, attention, head),
// with a weight large enough not to be folded at export time.
graph::Graph classifier_like_graph() {
  graph::Builder b("ops");
  auto x = b.input("image", DType::F32, {"N", 3, 32, 32});
  auto v = b.div(b.sub(b.mul(x, 1.0 / 255.0), b.const_f32({0.485f, 0.456f, 0.406f}, {1, 3, 1, 1})),
                 b.const_f32({0.229f, 0.224f, 0.225f}, {1, 3, 1, 1}));
  graph::ConvOptions co;
  co.pads = graph::symmetric_pads({1, 1});
  co.strides = {2, 2};
  v = b.conv(v, b.initializer("stem.w", random_tensor({16, 3, 3, 3}, 1, 0.5f)), b.initializer("stem.b", random_tensor({16}, 2)), co);
  v = b.batch_norm(v, b.initializer("bn.g", random_tensor({16}, 3, 0.2f)), b.initializer("bn.b", random_tensor({16}, 4)),
                   b.initializer("bn.m", random_tensor({16}, 5)), b.add(b.initializer("bn.v", random_tensor({16}, 6, 0.1f)), 1.0));
  v = b.op1("HardSwish", {v});
  graph::PoolOptions po;
  po.kernel_shape = {3, 3};
  po.strides = {2, 2};
  po.pads = graph::symmetric_pads({1, 1});
  v = b.max_pool(v, po);
  auto se = b.global_avg_pool(v);
  se = b.op1("HardSigmoid", {se}, {graph::Attribute::make_float("alpha", 1.0f / 6.0f), graph::Attribute::make_float("beta", 0.5f)});
  v = b.mul(v, se);
  po.kernel_shape = {2, 2};
  po.pads = {};
  v = b.avg_pool(v, po);  // [N, 16, 4, 4]
  v = b.resize(v, {1, 1, 2, 2}, graph::ResizeOptions::torch_linear(false));
  v = b.pad(v, {0, 0, 1, 1, 0, 0, 1, 1});
  v = b.clip(v, -2.0, 3.0);
  // Tokens: [N, 16, 10, 10] -> [N, 100, 16] -> attention-ish block -> head.
  auto tokens = b.transpose(b.reshape(v, {0, 16, -1}), {0, 2, 1});
  tokens = b.layer_norm(tokens, b.initializer("ln.g", random_tensor({16}, 7)), b.initializer("ln.b", random_tensor({16}, 8)));
  auto qkv = b.linear(tokens, b.initializer("qkv.w", random_tensor({48, 16}, 9, 0.5f)), b.initializer("qkv.b", random_tensor({48}, 10)));
  auto parts = b.split(qkv, 2, {16, 16, 16});
  auto att = b.softmax(b.mul(b.matmul(parts[0], b.transpose(parts[1], {0, 2, 1})), 0.25), -1);
  tokens = b.add(tokens, b.gelu(b.matmul(att, parts[2])));
  auto pooled = b.reduce_mean(b.slice(tokens, {1}, {99}, {1}), {1}, false);  // [N, 16]
  auto wide = b.linear(pooled, b.initializer("fc1.w", random_tensor({1024, 16}, 11, 0.5f)), std::nullopt);  // 64 KiB
  wide = b.sigmoid(wide);
  graph::GemmOptions go;
  go.trans_b = true;
  auto logits = b.gemm(wide, b.initializer("head.w", random_tensor({5, 1024}, 12, 0.1f)), b.initializer("head.b", random_tensor({5}, 13)), go);
  b.output(b.softmax(logits, 1), "probs");
  return std::move(b).finish();
}

}  // namespace

// Every op above, written as Core ML and read back, against ONNX Runtime on the graph itself.
TEST(CoreMLOps, ClassifierStyleOpsRoundTripBothBackends) {
  TempDir dir;
  const graph::Graph g = classifier_like_graph();
  runtime::Session reference(graph::to_model_bytes(g));
  const Tensor image = random_tensor({2, 3, 32, 32}, 99, 400.0f);
  const Tensor want = reference.run({{"image", image}}).at(0).tensor;
  struct Case {
    coreml::Backend backend;
    const char* target;
  };
  for (const auto& [backend, target] : {Case{coreml::Backend::MLProgram, "iOS15"}, Case{coreml::Backend::MLProgram, "iOS18"},
                                        Case{coreml::Backend::NeuralNetwork, "iOS14"}}) {
    for (const bool fp16 : {false, true}) {
      coreml::WriteOptions o;
      o.backend = backend;
      o.target = coreml::parse_target(target);
      o.fp16 = fp16;
      o.input_shapes["image"].fixed = {2, 3, 32, 32};
      const bool program = backend == coreml::Backend::MLProgram;
      const auto path = dir / (std::string(target) + (fp16 ? "_16" : "_32") + (program ? ".mlpackage" : ".mlmodel"));
      coreml::write_coreml(g, path, o);
      if (medport::testing::coreml::coremltools_available()) medport::testing::coreml::check_with_coremltools(path);
      const Tensor got = exporters::open_model(path).run({{"image", image}}).at(0).tensor;
      ASSERT_EQ(got.shape(), want.shape());
      const auto a = got.to_f32(), w = want.to_f32();
      double worst = 0;
      for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(a[i] - w[i])));
      EXPECT_LE(worst, fp16 ? 1e-2 : 1e-5) << path;
    }
  }
}
