// Context ensembles (mean, weighted, confidence) by hand and through the converted fixture
// model; building a persistent bank from supports.
#include <gtest/gtest.h>

#include <cmath>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/convert.hpp"
#include "medport/pipelines/fewshot/ensemble.hpp"
#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/pipelines/fewshot/retrieval.hpp"
#include "iris_model_test.hpp"
#include "test_support.hpp"

namespace {

namespace fewshot = medport::pipelines::fewshot;
using medport::Tensor;

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_f32()) m = std::max(m, std::abs(double(v)));
  return m;
}

double max_abs_diff(const Tensor& got, const Tensor& want) {
  EXPECT_EQ(got.shape(), want.shape());
  const auto g = got.to_f32(), w = want.to_f32();
  if (g.size() != w.size()) return 1e30;
  double d = 0;
  for (std::size_t i = 0; i < g.size(); ++i) d = std::max(d, std::abs(double(g[i]) - double(w[i])));
  return d;
}

double relative_error(const Tensor& got, const Tensor& want) { return max_abs_diff(got, want) / max_abs(want); }

Tensor slice0(const Tensor& t, std::int64_t i) {
  const auto v = t.to_f32();
  medport::Shape s = t.shape();
  const std::size_t per = v.size() / static_cast<std::size_t>(s[0]);
  s[0] = 1;
  return Tensor::from_f32(s, std::span(v.data() + static_cast<std::size_t>(i) * per, per));
}

// sum_i w_i E_i over the supports of (N,1,M,C) embeddings, written out.
Tensor combine(const Tensor& embeddings, const std::vector<double>& w) {
  const auto e = embeddings.to_f32();
  const std::size_t per = e.size() / w.size();
  std::vector<float> out(per);
  for (std::size_t j = 0; j < per; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < w.size(); ++i) s += w[i] * e[i * per + j];
    out[j] = static_cast<float>(s);
  }
  medport::Shape shape = embeddings.shape();
  shape[0] = 1;
  return Tensor::from_f32(shape, out);
}

TEST(IrisEnsembleMath, WeightedEmbeddingsByHand) {
  // N=2 supports, K=2 classes, M=1, C=2.
  const Tensor e = Tensor::from_f32({2, 2, 1, 2}, std::vector<float>{1, 2, 10, 20, 3, 6, 30, 60});
  const Tensor got = fewshot::weighted_embeddings(e, {{0.25, 1.0}, {0.75, 0.0}});
  EXPECT_EQ(got.shape(), (medport::Shape{1, 2, 1, 2}));
  EXPECT_EQ(got.to_f32(), (std::vector<float>{2.5f, 5.f, 10.f, 20.f}));  // 0.25*1+0.75*3, ...
  EXPECT_THROW(fewshot::weighted_embeddings(e, {{1.0, 1.0}}), medport::InputError);
}

TEST(IrisEnsembleMath, MaskSizeAndUserWeights) {
  // N=2, K=2, 4 voxels: class 0 has 1 and 3 voxels, class 1 none at all (uniform fallback).
  const Tensor masks = Tensor::from_f32({2, 2, 1, 2, 2}, std::vector<float>{1, 0, 0, 0, 0, 0, 0, 0,  //
                                                                            1, 1, 1, 0, 0, 0, 0, 0});
  EXPECT_EQ(fewshot::mask_size_weights(masks), (fewshot::SupportByClass{{0.25, 0.5}, {0.75, 0.5}}));
  EXPECT_EQ(fewshot::normalized_support_weights({1, 0, 3}, 2),
            (fewshot::SupportByClass{{0.25, 0.25}, {0, 0}, {0.75, 0.75}}));
  EXPECT_THROW(fewshot::normalized_support_weights({1, -1}, 1), medport::UsageError);
  EXPECT_THROW(fewshot::normalized_support_weights({0, 0}, 1), medport::UsageError);
}

TEST(IrisEnsembleMath, ConfidenceScoresAndKeep) {
  // Class 0: logits 0 everywhere -> 0.5. Class 1: +-ln 3 -> sigmoid = 0.75 or 0.25 -> max 0.75.
  const float l3 = static_cast<float>(std::log(3.0));
  const auto s = fewshot::confidence_scores(Tensor::from_f32({1, 2, 1, 1, 2}, std::vector<float>{0, 0, l3, -l3}));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_NEAR(s[0], 0.5, 1e-12);
  EXPECT_NEAR(s[1], 0.75, 1e-7);
  // Three supports, two classes; ties go to the lower index.
  const fewshot::SupportByClass scores{{0.6, 0.9}, {0.8, 0.9}, {0.7, 0.5}};
  EXPECT_EQ(fewshot::keep_best(scores, 1), (fewshot::SupportByClass{{0, 1}, {1, 0}, {0, 0}}));
  EXPECT_EQ(fewshot::keep_best(scores, 2), (fewshot::SupportByClass{{0, 0.5}, {0.5, 0.5}, {0.5, 0}}));
  EXPECT_EQ(fewshot::keep_best(scores, 9)[0][0], 1.0 / 3.0);
  EXPECT_THROW(fewshot::keep_best(scores, 0), medport::UsageError);
  EXPECT_EQ(fewshot::parse_ensemble_mode("confidence"), fewshot::EnsembleMode::Confidence);
  EXPECT_THROW(fewshot::parse_ensemble_mode("median"), medport::UsageError);
}

TEST(IrisEnsembleMath, MaskWeightedFixtureEmbeddings) {
  MEDPORT_FIXTURE_OR_SKIP(reference, "iris/iris_base8/reference.npz");
  const auto ref = medport::ckpt::NpzFile::open(reference);
  const Tensor masks = ref.read("ensemble_masks"), e = ref.read("ensemble_embeddings");
  std::vector<double> sizes;
  for (std::int64_t i = 0; i < 3; ++i) {
    double n = 0;
    for (float v : slice0(masks, i).to_f32()) n += v;
    sizes.push_back(n);
  }
  const double total = sizes[0] + sizes[1] + sizes[2];
  const Tensor want = combine(e, {sizes[0] / total, sizes[1] / total, sizes[2] / total});
  EXPECT_LT(max_abs_diff(fewshot::weighted_embeddings(e, fewshot::mask_size_weights(masks)), want), 1e-6);
}

class IrisEnsemble : public medport::testing::IrisModelTest {
 protected:
  static fewshot::EnsembleResult run(const fewshot::EnsembleOptions& options) {
    return fewshot::run_ensemble(*model_, ref("ensemble_images"), ref("ensemble_masks"), ref("query_image"), options);
  }
};

TEST_F(IrisEnsemble, MeanIsTheExistingContextEnsemble) {
  const auto r = run({});
  const Tensor logits =
      fewshot::context_ensemble(*model_, ref("ensemble_images"), ref("ensemble_masks"), ref("query_image"));
  EXPECT_EQ(r.logits.to_f32(), logits.to_f32());
  EXPECT_EQ(r.embeddings.to_f32(), fewshot::mean_embeddings(r.support_embeddings).to_f32());
  EXPECT_LT(relative_error(r.embeddings, ref("ensemble_mean_embeddings")), 1e-5);
  EXPECT_LT(relative_error(r.logits, ref("ensemble_logits")), 1e-5);
  EXPECT_EQ(r.weights, (fewshot::SupportByClass{{1.0 / 3}, {1.0 / 3}, {1.0 / 3}}));
  EXPECT_TRUE(r.scores.empty());
}

TEST_F(IrisEnsemble, WeightedByMaskSizeAndByUser) {
  const Tensor masks = ref("ensemble_masks"), e = ref("ensemble_embeddings");
  std::vector<double> sizes;
  for (std::int64_t i = 0; i < 3; ++i) {
    double n = 0;
    for (float v : slice0(masks, i).to_f32()) n += v;
    sizes.push_back(n);
  }
  const double total = sizes[0] + sizes[1] + sizes[2];
  fewshot::EnsembleOptions options;
  options.mode = fewshot::EnsembleMode::Weighted;
  const auto r = run(options);
  EXPECT_LT(relative_error(r.embeddings, combine(e, {sizes[0] / total, sizes[1] / total, sizes[2] / total})), 1e-5);
  EXPECT_NEAR(r.weights[1][0], sizes[1] / total, 1e-12);
  EXPECT_EQ(r.logits.shape(), (medport::Shape{1, 1, 16, 64, 64}));
  EXPECT_LT(relative_error(r.logits, model_->segment(ref("query_image"), r.embeddings)), 1e-6);

  options.support_weights = {1, 0, 3};
  EXPECT_LT(relative_error(run(options).embeddings, combine(e, {0.25, 0, 0.75})), 1e-5);
  options.support_weights = {1, 2};
  EXPECT_THROW(run(options), medport::UsageError);
}

TEST_F(IrisEnsemble, ConfidenceKeepsTheMostCertainSupports) {
  // Scores by hand: each reference support embedding alone predicts the query.
  const Tensor e = ref("ensemble_embeddings");
  std::vector<double> want;
  for (std::int64_t i = 0; i < 3; ++i) {
    const auto x = model_->segment(ref("query_image"), slice0(e, i)).to_f32();
    double sum = 0;
    for (float v : x) {
      const double p = 1.0 / (1.0 + std::exp(-double(v)));
      sum += std::max(p, 1.0 - p);
    }
    want.push_back(sum / double(x.size()));
  }
  std::vector<std::size_t> order{0, 1, 2};
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return want[a] > want[b]; });
  // This random-weight model scores the supports within 1e-5 of each other (0.55982, gaps of
  // 4e-6 and 6e-6); scores are checked to 5e-7, so the ranking is still unambiguous.
  ASSERT_GT(want[order[0]] - want[order[1]], 2e-6) << "scores too close to rank robustly";
  ASSERT_GT(want[order[1]] - want[order[2]], 2e-6);

  fewshot::EnsembleOptions options;
  options.mode = fewshot::EnsembleMode::Confidence;
  const auto best = run(options);
  ASSERT_EQ(best.scores.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(best.scores[i][0], want[i], 5e-7) << i;
  EXPECT_LT(relative_error(best.embeddings, slice0(e, static_cast<std::int64_t>(order[0]))), 1e-5);
  EXPECT_EQ(best.weights[order[0]][0], 1.0);

  options.keep = 2;
  std::vector<double> w(3, 0.0);
  w[order[0]] = w[order[1]] = 0.5;
  EXPECT_LT(relative_error(run(options).embeddings, combine(e, w)), 1e-5);
}

TEST_F(IrisEnsemble, BankFromSupportsAndRetrievalProbe) {
  medport::testing::TempDir dir;
  const auto store = fewshot::MemoryBankStore::open_or_create(dir / "bank.npz", model_->memory_momentum());
  const Tensor encoded =
      store.update_from_supports(*model_, ref("support_image"), ref("support_masks"), {1, 2}, "support");
  EXPECT_LT(relative_error(encoded, ref("task_embeddings")), 1e-5);
  const auto c = store.contents();
  EXPECT_LT(relative_error(c.bank.retrieve({1, 2}), ref("task_embeddings")), 1e-5);
  EXPECT_EQ(c.examples.size(), 2u);
  EXPECT_THROW(store.update_from_supports(*model_, ref("support_image"), ref("support_masks"), {1}),
               medport::InputError);

  // The query, encoded with its own first prediction, is a probe of the same shape.
  const Tensor probe = fewshot::probe_from_prediction(*model_, ref("query_image"), ref("logits"));
  EXPECT_EQ(probe.shape(), (medport::Shape{1, 2, 9, 128}));
  const Tensor tokens = fewshot::retrieve_fused(probe, {1, 2}, fewshot::retrieval_candidates(c), 2);
  EXPECT_EQ(tokens.shape(), (medport::Shape{1, 2, 9, 128}));
}

}  // namespace

namespace {

// The soft ensemble on a hand-computed case: two supports, one class, two voxels.
//   support 0: logits (0, ln 3)   -> p = (0.5, 0.75),  c0 = (0 + 0.25) / 2 = 0.125
//   support 1: logits (ln 9, ln 9) -> p = (0.9, 0.9),  c1 = (0.4 + 0.4) / 2 = 0.4
//   w = (0.125, 0.4) / 0.525; p = w0 * p0 + w1 * p1
TEST(IrisSoftEnsemble, EqualsItsFormulaOnAHandComputedCase) {
  using namespace medport;
  const float l3 = static_cast<float>(std::log(3.0)), l9 = static_cast<float>(std::log(9.0));
  const std::vector<float> a{0.0F, l3}, b{l9, l9};
  const auto r = pipelines::fewshot::fuse_soft({Tensor::from_f32({1, 1, 2}, a), Tensor::from_f32({1, 1, 2}, b)});
  EXPECT_NEAR(r.confidences[0][0], 0.125, 1e-7);
  EXPECT_NEAR(r.confidences[1][0], 0.4, 1e-7);
  const double w0 = 0.125 / 0.525, w1 = 0.4 / 0.525;
  EXPECT_NEAR(r.weights[0][0], w0, 1e-7);
  EXPECT_NEAR(r.weights[1][0], w1, 1e-7);
  ASSERT_EQ(r.probabilities.size(), 2u);
  EXPECT_NEAR(r.probabilities[0], w0 * 0.5 + w1 * 0.9, 1e-6);
  EXPECT_NEAR(r.probabilities[1], w0 * 0.75 + w1 * 0.9, 1e-6);
  // Undecided supports everywhere (all c = 0): a plain mean.
  const std::vector<float> zero{0.0F, 0.0F};
  const auto flat = pipelines::fewshot::fuse_soft({Tensor::from_f32({1, 1, 2}, zero), Tensor::from_f32({1, 1, 2}, zero)});
  EXPECT_DOUBLE_EQ(flat.weights[0][0], 0.5);
  EXPECT_THROW(pipelines::fewshot::fuse_soft({}), UsageError);
  EXPECT_THROW(pipelines::fewshot::fuse_soft({Tensor::from_f32({1, 1, 2}, a), Tensor::from_f32({1, 2, 1}, b)}), InputError);
}

}  // namespace
