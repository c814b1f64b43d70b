// Object-level retrieval (cosine top-k), similarity-weighted fusion and the PCA picture of a
// memory bank, against hand-computed values and the fixture's per-support embeddings.
#include <gtest/gtest.h>

#include <cmath>

#include <opencv2/imgcodecs.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/pipelines/fewshot/prototype_plot.hpp"
#include "medport/pipelines/fewshot/retrieval.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace fewshot = medport::pipelines::fewshot;
using medport::Tensor;

Tensor t12(float a, float b) { return Tensor::from_f32({1, 2}, std::vector<float>{a, b}); }

fewshot::RetrievalCandidate candidate(std::int64_t id, const std::string& name, Tensor e) {
  return {id, name, false, std::move(e)};
}

std::vector<std::string> names(const std::vector<fewshot::RetrievalHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.candidate.source);
  return out;
}

TEST(IrisRetrieval, CosineSimilarityByHand) {
  EXPECT_NEAR(fewshot::cosine_similarity(t12(1, 0), t12(1, 1)), 0.70710678118654752, 1e-12);
  EXPECT_NEAR(fewshot::cosine_similarity(t12(3, 4), t12(-6, -8)), -1.0, 1e-12);
  EXPECT_NEAR(fewshot::cosine_similarity(Tensor::from_f32({2, 2}, std::vector<float>{1, 2, 3, 4}),
                                         Tensor::from_f32({2, 2}, std::vector<float>{4, 3, 2, 1})),
              20.0 / 30.0, 1e-12);  // (4+6+6+4) / (sqrt(30) sqrt(30))
  EXPECT_EQ(fewshot::cosine_similarity(t12(0, 0), t12(1, 1)), 0.0);
  EXPECT_THROW(fewshot::cosine_similarity(t12(1, 0), Tensor::from_f32({3}, std::vector<float>{1, 0, 0})),
               medport::InputError);
}

const std::vector<fewshot::RetrievalCandidate> kCandidates{
    candidate(1, "a", t12(1, 0)),   // sim to (1,0): 1
    candidate(1, "b", t12(0, 1)),   // 0
    candidate(2, "c", t12(1, 1)),   // 0.7071
    candidate(2, "d", t12(-1, 0)),  // -1
    candidate(2, "e", t12(2, 2)),   // 0.7071, ties with c
};

TEST(IrisRetrieval, TopKBestFirstWithClassFilter) {
  EXPECT_EQ(names(fewshot::top_k(t12(1, 0), kCandidates, 3)), (std::vector<std::string>{"a", "c", "e"}));
  EXPECT_EQ(names(fewshot::top_k(t12(1, 0), kCandidates, 10, 2)), (std::vector<std::string>{"c", "e", "d"}));
  EXPECT_EQ(names(fewshot::top_k(t12(0, 5), kCandidates, 1, 1)), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(fewshot::top_k(t12(1, 0), kCandidates, 2, 7).empty());
  const auto hits = fewshot::top_k(t12(1, 0), kCandidates, 2);
  EXPECT_NEAR(hits[0].similarity, 1.0, 1e-12);
  EXPECT_NEAR(hits[1].similarity, 0.70710678118654752, 1e-12);
}

TEST(IrisRetrieval, SoftmaxFusionByHand) {
  const auto hits = fewshot::top_k(t12(1, 0), kCandidates, 2);  // a (1), c (1/sqrt 2)
  // softmax([1, 0.70710678] / 0.1), computed by hand
  const auto w = fewshot::fusion_weights(hits);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NEAR(w[0], 0.9492582664307069, 1e-12);
  EXPECT_NEAR(w[1], 0.05074173356929308, 1e-12);
  const auto fused = fewshot::fuse(hits).to_f32();  // 0.94926 (1,0) + 0.05074 (1,1)
  EXPECT_NEAR(fused[0], 1.0, 1e-6);
  EXPECT_NEAR(fused[1], 0.05074173356929308, 1e-6);
  // Temperature 1e6: practically the plain mean; one hit: weight 1.
  EXPECT_NEAR(fewshot::fuse(hits, 1e6).to_f32()[1], 0.5, 1e-6);
  EXPECT_EQ(fewshot::fusion_weights({hits[1]}), std::vector<double>{1.0});
  EXPECT_THROW(fewshot::fusion_weights(hits, 0.0), medport::UsageError);
  EXPECT_THROW(fewshot::fuse({}), medport::InputError);
}

TEST(IrisRetrieval, RetrieveFusedPerClass) {
  // Probes (1,K=2,M=1,C=2): class 1 looks like b, the second (class unknown: -1) like d.
  const Tensor probes = Tensor::from_f32({1, 2, 1, 2}, std::vector<float>{0.1f, 1.f, -3.f, 0.f});
  const Tensor got = fewshot::retrieve_fused(probes, {1, -1}, kCandidates, 1);
  EXPECT_EQ(got.shape(), (medport::Shape{1, 2, 1, 2}));
  EXPECT_EQ(got.to_f32(), (std::vector<float>{0.f, 1.f, -1.f, 0.f}));
  EXPECT_THROW(fewshot::retrieve_fused(probes, {1, 9}, kCandidates), medport::InputError);
  EXPECT_THROW(fewshot::retrieve_fused(probes, {1}, kCandidates), medport::InputError);
}

TEST(IrisRetrieval, ObjectLevelRetrievalFromAStoredBank) {
  MEDPORT_FIXTURE_OR_SKIP(reference, "iris/iris_base8/reference.npz");
  const auto ref = medport::ckpt::NpzFile::open(reference);
  const Tensor ensemble = ref.read("ensemble_embeddings");  // (3,1,9,128), class 1
  medport::testing::TempDir dir;
  const auto store = fewshot::MemoryBankStore::open_or_create(dir / "bank.npz");
  for (std::int64_t i = 0; i < 3; ++i)
    store.update(fewshot::class_slice(ensemble.contiguous().reshaped({3, 9, 128}), i).reshaped({1, 9, 128}), {1},
                 "support" + std::to_string(i));
  store.update(ref.read("task_embeddings"), {1, 2}, "query_case");
  const auto contents = store.contents();
  const auto all = fewshot::retrieval_candidates(contents);
  ASSERT_EQ(all.size(), 2u + 5u);  // prototypes 1, 2; examples support0-2, query_case/1, query_case/2
  EXPECT_TRUE(all[0].is_prototype);
  EXPECT_EQ(fewshot::retrieval_candidates(contents, fewshot::CandidateSet::Examples).size(), 5u);

  // Each stored support finds itself (similarity 1) among the examples of its class.
  const auto examples = fewshot::retrieval_candidates(contents, fewshot::CandidateSet::Examples);
  for (std::int64_t i = 0; i < 3; ++i) {
    const Tensor probe = fewshot::class_slice(ensemble.reshaped({3, 9, 128}), i);
    const auto hits = fewshot::top_k(probe, examples, 1, 1);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].candidate.source, "support" + std::to_string(i));
    EXPECT_NEAR(hits[0].similarity, 1.0, 1e-9);
  }
  // Class 2 of the support retrieves its own stored example when restricted to class 2.
  const auto two = fewshot::top_k(fewshot::class_slice(ref.read("task_embeddings"), 1), all, 1, 2);
  ASSERT_EQ(two.size(), 1u);
  EXPECT_NEAR(two[0].similarity, 1.0, 1e-9);
}

TEST(IrisPrototypePlot, PcaByHand) {
  // Four points on two axes: variance 2*4 + 2*1 = 10 in total, 8 along x, 2 along y.
  const std::vector<Tensor> rows{Tensor::from_f32({3}, std::vector<float>{3, 1, 0}),
                                 Tensor::from_f32({3}, std::vector<float>{-1, 1, 0}),
                                 Tensor::from_f32({3}, std::vector<float>{1, 2, 0}),
                                 Tensor::from_f32({3}, std::vector<float>{1, 0, 0})};  // mean (1,1,0)
  const auto p = fewshot::pca_2d(rows);
  EXPECT_NEAR(p.explained_variance[0], 0.8, 1e-9);
  EXPECT_NEAR(p.explained_variance[1], 0.2, 1e-9);
  const double expected[4][2] = {{2, 0}, {-2, 0}, {0, 1}, {0, -1}};
  const double sx = p.coordinates[0][0] > 0 ? 1 : -1, sy = p.coordinates[2][1] > 0 ? 1 : -1;  // PCA signs are free
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(p.coordinates[i][0], sx * expected[i][0], 1e-9) << i;
    EXPECT_NEAR(p.coordinates[i][1], sy * expected[i][1], 1e-9) << i;
  }
  const auto one = fewshot::pca_2d({rows[0]});
  EXPECT_EQ(one.coordinates.size(), 1u);
  EXPECT_EQ(one.explained_variance[0], 0.0);
}

TEST(IrisPrototypePlot, WritesAReadablePng) {
  medport::testing::TempDir dir;
  const auto store = fewshot::MemoryBankStore::open_or_create(dir / "bank.npz", 0.9);
  // Three classes, each a cloud of examples around its own direction.
  for (int c = 1; c <= 3; ++c)
    for (int i = 0; i < 4; ++i) {
      std::vector<float> v(2 * 8, 0.1f * float(i));
      v[static_cast<std::size_t>(c)] += 5.0f;
      v[static_cast<std::size_t>(8 + c)] += 2.0f + 0.3f * float(i);
      store.update(Tensor::from_f32({1, 1, 2, 8}, v), {c}, "case" + std::to_string(i));
    }
  const fs::path png = dir / "plot" / "bank.png";
  const auto plot = fewshot::write_prototype_plot(png, store.contents());
  EXPECT_EQ(plot.points.size(), 3u + 12u);
  EXPECT_GT(plot.projection.explained_variance[0], 0.3);
  EXPECT_LE(plot.projection.explained_variance[0] + plot.projection.explained_variance[1], 1.0 + 1e-9);
  const cv::Mat img = cv::imread(png.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.cols, 960);
  EXPECT_EQ(img.rows, 720);
  // Class colours (tab10 blue, orange, green as BGR) are present.
  for (const cv::Vec3b& colour : {cv::Vec3b(180, 119, 31), cv::Vec3b(14, 127, 255), cv::Vec3b(44, 160, 44)}) {
    int n = 0;
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x) n += img.at<cv::Vec3b>(y, x) == colour;
    EXPECT_GT(n, 50);
  }
  for (const auto& e : fs::directory_iterator(dir / "plot"))
    EXPECT_EQ(e.path().filename(), "bank.png");  // no temp left
  EXPECT_THROW(fewshot::write_prototype_plot(dir / "empty.png", std::vector<fewshot::PlotPoint>{}),
               medport::InputError);
}

}  // namespace
