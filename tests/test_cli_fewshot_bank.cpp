// `medport fewshot --strategy memory --retrieval top-k` and `--bank-plot` through the built
// binary, against the IRIS fixture: top-1 retrieval of a stored support reproduces the one-shot
// masks, the reported fusion weights are softmax(similarity / T), the PCA plot is a real PNG of
// the requested size written atomically, and bad values are usage errors.
#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "medport/checkpoint/npy.hpp"
#include "iris_cli_test.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::DType;
using medport::Tensor;
using medport::testing::run_medport;
using medport::testing::TempDir;
using nlohmann::json;

class CliFewshotBank : public medport::testing::IrisCliTest {
 protected:
  static void SetUpTestSuite() {
    convert_fixture_and_write_inputs();
    if (!ref_) return;
    write_bank(data() / "bank.npz");
  }
  static void TearDownTestSuite() { release_fixture(); }

  // A MemoryBankStore file written by hand: other supports' embeddings (the reference ensemble's
  // first two, cosine 0.76..0.84 to the support's) as prototypes, and the reference support's two
  // class embeddings (torch) as examples named "support.npy". (The reference memory bank itself
  // equals the support's embeddings, so it could not tell prototype from example.)
  static void write_bank(const fs::path& file) {
    const auto ensemble = ref("ensemble_embeddings").to_f32();
    const std::size_t per = ensemble.size() / 3;
    const auto prototype = [&](std::size_t i) {
      return Tensor::from_f32({9, 128}, std::span(ensemble.data() + i * per, per));
    };
    const double momentum = 0.999;
    const std::int64_t one = 1, ids[2] = {1, 2};
    const std::string sources = R"(["support.npy","support.npy"])";
    medport::ckpt::write_npz(
        file, {{"momentum", Tensor::from_bytes(DType::F64, {1}, std::as_bytes(std::span(&momentum, 1)))},
               {"class_1", prototype(0)},
               {"count_1", Tensor::from_bytes(DType::I64, {1}, std::as_bytes(std::span(&one, 1)))},
               {"class_2", prototype(1)},
               {"count_2", Tensor::from_bytes(DType::I64, {1}, std::as_bytes(std::span(&one, 1)))},
               {"example_embeddings", ref("task_embeddings").reshaped({2, 9, 128})},
               {"example_class_ids", Tensor::from_bytes(DType::I64, {2}, std::as_bytes(std::span(ids, 2)))},
               {"example_sources", Tensor::from_bytes(DType::U8, {static_cast<std::int64_t>(sources.size())},
                                                      std::as_bytes(std::span(sources.data(), sources.size())))}});
  }

  static fs::path bank() { return data() / "bank.npz"; }

  // Voxels whose label differs from the thresholded reference logits, ignoring voxels where a
  // logit (or the gap between two positive logits) lies within 2e-3 of the decision.
  static std::size_t unexplained_differences(const fs::path& npy, const Tensor& logits) {
    const auto l = logits.to_f32();
    const std::size_t per = l.size() / 2;
    const auto got_t = medport::ckpt::read_npy_file(npy);
    EXPECT_EQ(got_t.shape(), (medport::Shape{16, 64, 64}));
    const auto* got = got_t.data<std::uint8_t>();
    std::size_t bad = 0;
    for (std::size_t i = 0; i < per; ++i) {
      const double a = l[i], b = l[per + i];
      const bool ambiguous = std::abs(a) < 2e-3 || std::abs(b) < 2e-3 || (a > 0 && b > 0 && std::abs(a - b) < 2e-3);
      const std::uint8_t want = a > 0 || b > 0 ? (a >= b ? 1 : 2) : 0;
      if (got[i] != want && !ambiguous) ++bad;
    }
    return bad;
  }

};

TEST_F(CliFewshotBank, TopOneRetrievesTheStoredSupportAndGivesTheOneShotMasks) {
  TempDir out;
  const auto r = run_medport({"fewshot", model().string(), "--strategy", "memory", "--retrieval", "top-k", "--top-k", "1",
                              "--bank", bank().string(), "--support", (data() / "support.npy").string(), "--support-mask",
                              (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(), "-o",
                              out.path().string(), "--normalize", "none", "--format", "npy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The fused tokens are the stored (torch) support embeddings, so the masks are one-shot's.
  EXPECT_EQ(unexplained_differences(out / "query_labels.npy", ref("logits")), 0U);
  const auto j = medport::testing::read_json(out / "query.json");
  const auto& retrieval = j["strategy_details"]["retrieval"];
  EXPECT_EQ(retrieval["mode"], "top-k");
  EXPECT_EQ(retrieval["k"], 1);
  EXPECT_EQ(retrieval["probe"], "supports");
  ASSERT_EQ(retrieval["classes"].size(), 2U);
  for (int k = 0; k < 2; ++k) {
    const auto& c = retrieval["classes"][k];
    EXPECT_EQ(c["class_id"], k + 1);
    ASSERT_EQ(c["retrieved"].size(), 1U);
    const auto& hit = c["retrieved"][0];
    EXPECT_EQ(hit["class_id"], k + 1);
    EXPECT_EQ(hit["source"], "support.npy");
    EXPECT_EQ(hit["prototype"], false);
    EXPECT_NEAR(hit["similarity"].get<double>(), 1.0, 1e-4);  // ORT vs torch encoding of the same support
    EXPECT_DOUBLE_EQ(hit["weight"].get<double>(), 1.0);
  }
}

TEST_F(CliFewshotBank, FusionWeightsAreTheSoftmaxOfTheReportedSimilaritiesFromTheConfig) {
  // No supports: the probe is the query encoded with its first prediction (from the prototypes).
  TempDir out;
  const fs::path config = out / "inference.yaml";
  std::ofstream(config) << "strategy: memory\nmemory_bank:\n  path: " << bank().string()
                        << "\n  retrieval: top-k\n  top_k: 3\n  fusion_temperature: 0.05\noutput:\n  format: npy\n"
                           "preprocessing:\n  normalize: none\n";
  const auto r = run_medport({"fewshot", model().string(), "--config", config.string(), "--query",
                              (data() / "query.npy").string(), "-o", (out / "res").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = medport::testing::read_json(out / "res" / "query.json");
  const auto& retrieval = j["strategy_details"]["retrieval"];
  EXPECT_EQ(retrieval["probe"], "query's first prediction");
  EXPECT_DOUBLE_EQ(retrieval["fusion_temperature"].get<double>(), 0.05);
  ASSERT_EQ(retrieval["classes"].size(), 2U);
  for (int k = 0; k < 2; ++k) {
    const auto& hits = retrieval["classes"][k]["retrieved"];
    ASSERT_EQ(hits.size(), 2U);  // the class has a prototype and one example: fewer than k = 3
    double norm = 0.0, weight_sum = 0.0;
    for (const auto& h : hits) {
      EXPECT_EQ(h["class_id"], k + 1);
      norm += std::exp(h["similarity"].get<double>() / 0.05);
      weight_sum += h["weight"].get<double>();
    }
    EXPECT_NEAR(weight_sum, 1.0, 1e-12);
    EXPECT_GE(hits[0]["similarity"].get<double>(), hits[1]["similarity"].get<double>());
    EXPECT_NE(hits[0]["prototype"], hits[1]["prototype"]);
    for (const auto& h : hits)
      EXPECT_NEAR(h["weight"].get<double>(), std::exp(h["similarity"].get<double>() / 0.05) / norm, 1e-9);
  }
  // An unknown key next to them stays an error naming it.
  std::ofstream(config) << "memory_bank:\n  top_kk: 3\n";
  const auto bad = run_medport({"fewshot", model().string(), "--config", config.string(), "--query",
                                (data() / "query.npy").string(), "-o", (out / "res2").string()});
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_NE(bad.err.find("top_kk"), std::string::npos) << bad.err;
}

TEST_F(CliFewshotBank, BankPlotAloneNeedsNoQuery) {
  TempDir out;
  const auto r = run_medport({"fewshot", model().string(), "--bank", bank().string(), "--bank-plot", (out / "bank.png").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat png = cv::imread((out / "bank.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(png.empty());
  EXPECT_EQ(png.cols, 960);
  EXPECT_EQ(png.rows, 720);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(out.path())) files.push_back(e.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"bank.png"});  // no temporary file left behind
  // A bank that is not there is a bad input.
  const auto missing = run_medport({"fewshot", model().string(), "--bank", (out / "none.npz").string(), "--bank-plot",
                                    (out / "none.png").string()});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_FALSE(fs::exists(out / "none.png"));
}

TEST_F(CliFewshotBank, BankPlotAfterARunShowsTheUpdatedBank) {
  TempDir out;
  const auto r = run_medport({"fewshot", model().string(), "--strategy", "memory", "--bank", (out / "new.npz").string(),
                              "--update-bank", "--support", (data() / "support.npy").string(), "--support-mask",
                              (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(), "-o",
                              (out / "res").string(), "--normalize", "none", "--bank-plot", (out / "new.png").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(cv::imread((out / "new.png").string()).empty());
  const auto summary = medport::testing::read_json(out / "res" / "batch_summary.json");
  EXPECT_EQ(summary["bank_plot"]["prototypes"], 2);  // classes 1 and 2, learnt in this run
  EXPECT_EQ(summary["bank_plot"]["examples"], 2);
}

TEST_F(CliFewshotBank, UsageErrors) {
  TempDir out;
  const std::string q = (data() / "query.npy").string(), o = (out / "res").string();
  const std::vector<std::string> memory{"fewshot", model().string(), "--strategy", "memory", "--bank", bank().string(),
                                        "--query", q, "-o", o};
  auto with = [&](std::vector<std::string> extra) {
    auto args = memory;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_medport(args);
  };
  auto r = with({"--retrieval", "top-k", "--top-k", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("top-k"), std::string::npos) << r.err;
  EXPECT_EQ(with({"--retrieval", "nearest"}).exit_code, 2);
  EXPECT_EQ(with({"--retrieval", "top-k", "--fusion-temperature", "0"}).exit_code, 2);
  // top-k belongs to the memory strategy.
  r = run_medport({"fewshot", model().string(), "--retrieval", "top-k", "--support", (data() / "support.npy").string(),
                   "--support-mask", (data() / "support_mask.npy").string(), "--query", q, "-o", o});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // A query run needs -o; the plot-only form takes no supports or --update-bank.
  EXPECT_EQ(run_medport({"fewshot", model().string(), "--strategy", "memory", "--bank", bank().string(), "--query", q})
                .exit_code,
            2);
  EXPECT_EQ(run_medport({"fewshot", model().string(), "--bank", bank().string(), "--update-bank", "--bank-plot",
                         (out / "p.png").string()})
                .exit_code,
            2);
  EXPECT_FALSE(fs::exists(out / "res"));
  EXPECT_FALSE(fs::exists(out / "p.png"));
}

}  // namespace
