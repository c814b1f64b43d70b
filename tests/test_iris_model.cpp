// IRIS -> encode_support.onnx + forward.onnx, checked in ONNX Runtime against the PyTorch
// reference (fixtures made by the original code; unseen configurations made by
// tools/iris_reference.py, itself checked against the fixtures).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/graph/onnx_writer.hpp"
#include "medport/pipelines/convert.hpp"
#include "medport/models/iris/iris.hpp"
#include "medport/runtime/session.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace iris = medport::models::iris;
using medport::Tensor;

constexpr const char* kFixture = "iris/iris_base8";

double relative_error(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape(), want.shape());
  if (got.shape() != want.shape()) return 1e30;
  const auto g = got.to_f32(), w = want.to_f32();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    diff = std::max(diff, std::abs(double(g[i]) - double(w[i])));
    scale = std::max(scale, std::abs(double(w[i])));
  }
  return diff / std::max(scale, 1e-12);
}

Tensor run_one(const fs::path& model, std::vector<medport::runtime::NamedTensor> inputs) {
  medport::runtime::SessionOptions options;
  options.intra_op_threads = 2;
  const medport::runtime::Session session(model, options);
  auto outputs = session.run(inputs);
  EXPECT_EQ(outputs.size(), 1u);
  return outputs.at(0).tensor;
}

medport::pipelines::ConvertReport convert(const fs::path& source, const fs::path& out, const fs::path& config = {}) {
  medport::pipelines::ConvertRequest request;
  request.source = source;
  request.output = out;
  request.options.config = config;
  return medport::pipelines::convert(request);
}

// Converts and checks both graphs against `reference` (npz with the reference tool's names).
void expect_parity(const fs::path& out_dir, const fs::path& reference_npz) {
  const auto ref = medport::ckpt::NpzFile::open(reference_npz);
  const Tensor embeddings = run_one(out_dir / "encode_support.onnx",
                                    {{iris::kSupportImage, ref.read("support_image")},
                                     {iris::kSupportMasks, ref.read("support_masks")}});
  const double embeddings_error = relative_error(embeddings, ref.read("task_embeddings"));
  EXPECT_LT(embeddings_error, 1e-4);
  const Tensor logits = run_one(out_dir / "forward.onnx", {{iris::kQueryImage, ref.read("query_image")},
                                                           {iris::kTaskEmbeddings, ref.read("task_embeddings")}});
  const double logits_error = relative_error(logits, ref.read("logits"));
  EXPECT_LT(logits_error, 1e-4);
  ::testing::Test::RecordProperty("task_embeddings_relative_error", std::to_string(embeddings_error));
  ::testing::Test::RecordProperty("logits_relative_error", std::to_string(logits_error));
}

TEST(IrisConvert, FixtureParityThroughOnnxRuntime) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kFixture);
  medport::testing::TempDir tmp;
  const auto report = convert(dir / "final_model.pt", tmp / "out", dir / "config.json");
  EXPECT_EQ(report.family, "iris");
  EXPECT_EQ(report.tensors_used, report.tensors_total);  // a plain state dict: every tensor is used
  expect_parity(tmp / "out", dir / "reference.npz");

  std::ifstream in(tmp / "out" / "medport.json");
  const auto sidecar = nlohmann::json::parse(in);
  EXPECT_EQ(sidecar["iris"]["base_channels"], 8);
  EXPECT_EQ(sidecar["iris"]["embed_dim"], 128);
  EXPECT_EQ(sidecar["iris"]["volume_shape"], nlohmann::json({16, 64, 64}));
  EXPECT_EQ(sidecar["iris"]["memory_bank"]["class_ids"], nlohmann::json::array());
}

TEST(IrisConvert, Fp16GraphsStayCloseToTheReference) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kFixture);
  medport::testing::TempDir tmp;
  medport::pipelines::ConvertRequest request;
  request.source = dir / "final_model.pt";
  request.output = tmp / "out";
  request.options.config = dir / "config.json";
  request.options.fp16 = true;
  medport::pipelines::convert(request);
  const auto ref = medport::ckpt::NpzFile::open(dir / "reference.npz");
  const Tensor embeddings = run_one(tmp / "out" / "encode_support.onnx",
                                    {{iris::kSupportImage, ref.read("support_image")},
                                     {iris::kSupportMasks, ref.read("support_masks")}});
  EXPECT_LT(relative_error(embeddings, ref.read("task_embeddings")), 2e-2);
  const Tensor logits = run_one(tmp / "out" / "forward.onnx", {{iris::kQueryImage, ref.read("query_image")},
                                                               {iris::kTaskEmbeddings, ref.read("task_embeddings")}});
  EXPECT_LT(relative_error(logits, ref.read("logits")), 2e-2);
  const auto got = logits.to_f32(), want = ref.read("logits").to_f32();
  std::size_t same_sign = 0;
  for (std::size_t i = 0; i < got.size(); ++i) same_sign += (got[i] > 0) == (want[i] > 0);
  EXPECT_GE(double(same_sign), 0.99 * double(got.size()));
}

TEST(IrisConvert, AllThreeCheckpointLayoutsGiveTheSameGraphs) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kFixture);
  const auto choices = iris::read_iris_choices(dir / "config.json");
  const auto plain = iris::load_iris(dir / "final_model.pt", choices);
  const auto iteration = iris::load_iris(dir / "checkpoint_iter_000500.pt", choices);
  const auto training = iris::load_iris(dir / "iris_iter_000100.pt");  // its own `config` supplies the volume
  EXPECT_EQ(plain.layout, "state_dict");
  EXPECT_EQ(iteration.layout, "model_state_dict");
  EXPECT_EQ(training.layout, "model_state");
  EXPECT_EQ(training.config.volume_shape, (std::vector<std::int64_t>{16, 64, 64}));
  ASSERT_EQ(training.memory_bank.size(), 2u);
  EXPECT_TRUE(training.memory_bank.count(1) && training.memory_bank.count(2));
  EXPECT_EQ(training.memory_bank.at(1).shape(), (medport::Shape{9, 128}));

  const auto bytes = [](const iris::LoadedIris& m) {
    return std::pair{medport::graph::to_model_bytes(iris::build_encode_support_graph(m.config, m.state_dict)),
                     medport::graph::to_model_bytes(iris::build_forward_graph(m.config, m.state_dict))};
  };
  const auto a = bytes(plain), b = bytes(iteration), c = bytes(training);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a == c);

  // Through convert(): the training dict also exports its memory bank.
  medport::testing::TempDir tmp;
  convert(dir / "iris_iter_000100.pt", tmp / "out");
  std::ifstream in(tmp / "out" / "medport.json");
  const auto sidecar = nlohmann::json::parse(in);
  EXPECT_EQ(sidecar["iris"]["memory_bank"]["class_ids"], nlohmann::json({1, 2}));
  EXPECT_EQ(sidecar["iris"]["checkpoint_layout"], "model_state");
  const auto bank = medport::ckpt::read_npz(tmp / "out" / "memory_bank.npz");
  ASSERT_EQ(bank.size(), 2u);
  EXPECT_EQ(bank[0].first, "class_1");
  EXPECT_EQ(relative_error(bank[0].second, training.memory_bank.at(1)), 0.0);
}

TEST(IrisConvert, UnseenConfigurationMatchesTheReferenceTool) {
  medport::testing::TempDir tmp;
  // Base 4 (C = 64), 5 tokens, 6 heads (64 % 6 != 0: upstream falls back to gcd = 2 heads),
  // a non-cubic volume, B = 2 and K = 3.
  const auto made = medport::testing::run_program(
      {MEDPORT_PYTHON, (medport::testing::source_dir() / "tools" / "iris_reference.py").string(), "make",
       (tmp / "ref").string(), "--base", "4", "--tokens", "5", "--heads", "6", "--volume", "32", "16", "48",
       "--batch", "2", "--classes", "3", "--seed", "7"});
  if (made.exit_code != 0) GTEST_SKIP() << "reference tool unavailable: " << made.err;
  const auto report = convert(tmp / "ref" / "model.pt", tmp / "out", tmp / "ref" / "config.json");
  std::ifstream in(tmp / "out" / "medport.json");
  const auto sidecar = nlohmann::json::parse(in);
  EXPECT_EQ(sidecar["iris"]["effective_attention_heads"], 2);
  EXPECT_EQ(sidecar["iris"]["num_query_tokens"], 5);
  expect_parity(tmp / "out", tmp / "ref" / "reference.npz");
}

TEST(IrisConvert, YamlConfigIsReadLikeJson) {
  medport::testing::TempDir tmp;
  std::ofstream(tmp / "c.yaml") << "# IRIS\nbase_channels: 8\nnum_attention_heads: 4  # heads\n"
                                   "volume_shape:\n  - 16\n  - 32\n  - 48\nmemory_momentum: 0.99\n";
  const auto block = iris::read_iris_choices(tmp / "c.yaml");
  EXPECT_EQ(block.base_channels, 8);
  EXPECT_EQ(block.num_attention_heads, 4);
  EXPECT_EQ(block.volume_shape, (std::vector<std::int64_t>{16, 32, 48}));
  EXPECT_DOUBLE_EQ(block.memory_momentum.value_or(0), 0.99);
  std::ofstream(tmp / "d.yml") << "volume_shape: [16, 16, 32]\n";
  EXPECT_EQ(iris::read_iris_choices(tmp / "d.yml").volume_shape, (std::vector<std::int64_t>{16, 16, 32}));
  std::ofstream(tmp / "bad.yaml") << "volume_shape: [16, 16\nbase_channels: }\n";
  EXPECT_THROW(iris::read_iris_choices(tmp / "bad.yaml"), medport::InputError);
  std::ofstream(tmp / "wrong_type.yaml") << "base_channels: eight\n";
  EXPECT_THROW(iris::read_iris_choices(tmp / "wrong_type.yaml"), medport::InputError);
}

TEST(IrisConvert, RefusesInconsistentConfigurations) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kFixture);
  medport::testing::TempDir tmp;
  std::ofstream(tmp / "wrong_base.json") << R"({"base_channels": 16, "volume_shape": [16, 64, 64]})";
  EXPECT_THROW(convert(dir / "final_model.pt", tmp / "a", tmp / "wrong_base.json"), medport::InputError);
  std::ofstream(tmp / "odd_volume.json") << R"({"volume_shape": [16, 60, 64]})";
  EXPECT_THROW(convert(dir / "final_model.pt", tmp / "b", tmp / "odd_volume.json"), medport::InputError);
  std::ofstream(tmp / "not_json.json") << "{base_channels";
  EXPECT_THROW(convert(dir / "final_model.pt", tmp / "c", tmp / "not_json.json"), medport::InputError);
  std::ofstream(tmp / "file.onnx") << "x";
  EXPECT_THROW(convert(dir / "final_model.pt", tmp / "file.onnx", dir / "config.json"), medport::UsageError);
  EXPECT_THROW(convert(dir / "final_model.pt", tmp / "new.onnx", dir / "config.json"), medport::UsageError);
  EXPECT_FALSE(fs::exists(tmp / "a"));
  EXPECT_FALSE(fs::exists(tmp / "new.onnx"));
}

// The IRIS guide's nested configuration: convert reads its `model:` block (the other blocks are
// fewshot's); an unknown key is named; the volume comes from the checkpoint's own config when it
// has one (a contradicting config is refused), else from the config, else convert stops and asks.
TEST(IrisConvert, GuideConfigAndTheVolumeShapeRule) {
  MEDPORT_FIXTURE_OR_SKIP(dir, kFixture);
  medport::testing::TempDir tmp;
  std::ofstream(tmp / "guide.yaml") << "model:\n  checkpoint: final_model.pt\n  in_channels: 1\n  base_channels: 8\n"
                                       "  num_query_tokens: 8\n  num_attention_heads: 8\n  volume_shape: [16, 32, 48]\n"
                                       "inference:\n  strategy: ensemble\ndevice: {type: cuda}\n";
  const auto choices = iris::read_iris_choices(tmp / "guide.yaml");
  EXPECT_EQ(choices.volume_shape, (std::vector<std::int64_t>{16, 32, 48}));
  EXPECT_EQ(choices.base_channels, 8);
  convert(dir / "final_model.pt", tmp / "guide", tmp / "guide.yaml");
  EXPECT_EQ(medport::testing::read_json(tmp / "guide" / "medport.json")["iris"]["volume_shape"],
            nlohmann::json({16, 32, 48}));

  std::ofstream(tmp / "typo.yaml") << "model:\n  volume_shap: [16, 64, 64]\n";
  try {
    iris::read_iris_choices(tmp / "typo.yaml");
    ADD_FAILURE() << "no error";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'model.volume_shap': unknown key"), std::string::npos) << e.what();
  }
  std::ofstream(tmp / "flat_typo.json") << R"({"volume_shape": [16, 64, 64], "heads": 8})";
  EXPECT_THROW(iris::read_iris_choices(tmp / "flat_typo.json"), medport::InputError);
  std::ofstream(tmp / "top_typo.yaml") << "model: {volume_shape: [16, 64, 64]}\ninferance: {}\n";
  EXPECT_THROW(iris::read_iris_choices(tmp / "top_typo.yaml"), medport::InputError);

  // iris_iter_000100.pt records volume_shape [16, 64, 64]: it wins, a contradicting config is refused.
  convert(dir / "iris_iter_000100.pt", tmp / "own");
  EXPECT_EQ(medport::testing::read_json(tmp / "own" / "medport.json")["iris"]["volume_shape"], nlohmann::json({16, 64, 64}));
  EXPECT_THROW(convert(dir / "iris_iter_000100.pt", tmp / "contra", tmp / "guide.yaml"), medport::InputError);
  // A plain state dict without a config: nothing tells the volume, so convert asks for it.
  try {
    convert(dir / "final_model.pt", tmp / "asks");
    ADD_FAILURE() << "no error";
  } catch (const medport::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("volume_shape"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "asks"));
  EXPECT_FALSE(fs::exists(tmp / "contra"));
}

}  // namespace
