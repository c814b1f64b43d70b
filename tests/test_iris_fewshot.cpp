// Few-shot strategies over the converted IRIS graphs against the fixture's reference values
// (one-shot, context ensemble = mean of embeddings, EMA memory bank).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/convert.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"
#include "iris_model_test.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace fewshot = medport::pipelines::fewshot;
using medport::Tensor;

double max_abs_diff(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape(), want.shape());
  if (got.shape() != want.shape()) return 1e30;
  const auto g = got.to_f32(), w = want.to_f32();
  double d = 0;
  for (std::size_t i = 0; i < g.size(); ++i) d = std::max(d, std::abs(double(g[i]) - double(w[i])));
  return d;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_f32()) m = std::max(m, std::abs(double(v)));
  return m;
}

double relative_error(const Tensor& got, const Tensor& want) { return max_abs_diff(got, want) / max_abs(want); }

Tensor slice0(const Tensor& t, std::int64_t i) {
  const auto v = t.to_f32();
  medport::Shape s = t.shape();
  const std::size_t per = v.size() / static_cast<std::size_t>(s[0]);
  s[0] = 1;
  return Tensor::from_f32(s, std::span(v.data() + static_cast<std::size_t>(i) * per, per));
}

using IrisFewShot = medport::testing::IrisModelTest;

TEST_F(IrisFewShot, OneShot) {
  const Tensor logits = fewshot::one_shot(*model_, ref("support_image"), ref("support_masks"), ref("query_image"));
  EXPECT_LT(relative_error(logits, ref("logits")), 1e-4);
  EXPECT_DOUBLE_EQ(model_->memory_momentum(), 0.999);
}

TEST_F(IrisFewShot, ContextEnsembleMeansTheEmbeddings) {
  // The averaging itself, on the reference's own per-support embeddings.
  EXPECT_LT(max_abs_diff(fewshot::mean_embeddings(ref("ensemble_embeddings")), ref("ensemble_mean_embeddings")), 1e-6);
  // Per-support embeddings and the ensemble's logits through ONNX Runtime.
  const Tensor images = ref("ensemble_images"), masks = ref("ensemble_masks");
  for (std::int64_t i = 0; i < 3; ++i) {
    const Tensor e = model_->encode_support(slice0(images, i), slice0(masks, i));
    EXPECT_LT(relative_error(e, slice0(ref("ensemble_embeddings"), i)), 1e-5) << "support " << i;
  }
  const Tensor logits = fewshot::context_ensemble(*model_, images, masks, ref("query_image"));
  EXPECT_LT(relative_error(logits, ref("ensemble_logits")), 1e-5);
}

TEST_F(IrisFewShot, MemoryBankEma) {
  // Episodes: the support (classes 1, 2), the first ensemble support (class 1), then a
  // background-only episode that must leave the bank untouched.
  fewshot::MemoryBank bank(model_->memory_momentum());
  bank.update_episode(ref("task_embeddings"), {1, 2});
  bank.update_episode(slice0(ref("ensemble_embeddings"), 0), {1});
  bank.update_episode(slice0(ref("ensemble_embeddings"), 1), {0});
  EXPECT_EQ(bank.class_ids(), (std::vector<std::int64_t>{1, 2}));
  EXPECT_LT(max_abs_diff(bank.get(1), ref("memory_class1")), 1e-6);
  EXPECT_LT(max_abs_diff(bank.get(2), ref("memory_class2")), 1e-6);
  const Tensor logits = model_->segment(ref("query_image"), bank.retrieve({1, 2}));
  EXPECT_LT(relative_error(logits, ref("memory_logits")), 1e-4);
  EXPECT_THROW(bank.retrieve({3}), medport::InputError);
  EXPECT_THROW(bank.update(1, Tensor::zeros(medport::DType::F32, {8, 128})), medport::InputError);
}

TEST(IrisMemoryBank, EmaByHand) {
  fewshot::MemoryBank bank(0.5);
  bank.update(4, Tensor::from_f32({1, 2}, std::vector<float>{2.f, 4.f}));
  bank.update(4, Tensor::from_f32({1, 2}, std::vector<float>{0.f, 8.f}));
  EXPECT_EQ(bank.get(4).to_f32(), (std::vector<float>{1.f, 6.f}));
  EXPECT_THROW(fewshot::MemoryBank(1.0), medport::UsageError);
  EXPECT_THROW(fewshot::mean_embeddings(Tensor::zeros(medport::DType::F32, {2, 3})), medport::InputError);
}

}  // namespace
