// `medport fewshot` through the built binary, against the IRIS fixture: masks from the CLI must
// equal the thresholded reference logits (one-shot, ensemble, memory bank), plus the JSON
// reports, the config file, bad inputs (exit 3, nothing half-written) and resuming.
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
using medport::Tensor;
using medport::testing::run_medport;
using medport::testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class CliFewshot : public medport::testing::IrisCliTest {
 protected:
  static void SetUpTestSuite() {
    convert_fixture_and_write_inputs();
    if (!ref_) return;
    medport::ckpt::write_npy_file(data() / "query_mask.npy", ref("query_masks").reshaped({2, 16, 64, 64}));
    for (int i = 0; i < 3; ++i) {
      medport::ckpt::write_npy_file(data() / ("ens" + std::to_string(i) + ".npy"), ref_row("ensemble_images", i, 3));
      // Single-class masks as label maps (value 1), converted to uint8 like a real mask file.
      medport::ckpt::write_npy_file(data() / ("ens" + std::to_string(i) + "_mask.npy"),
                                    ref_row("ensemble_masks", i, 3).to(medport::DType::U8));
    }
  }
  static void TearDownTestSuite() { release_fixture(); }

  // The label map the reference logits (1,K,D,H,W) give: sigmoid > 0.5, overlaps to the most
  // probable class (the lowest on a tie), labels 1..K. `ambiguous` marks voxels where float
  // noise between ORT and torch may decide (a logit or a logit difference within 2e-3).
  static std::vector<std::uint8_t> expected_labels(const Tensor& logits, std::vector<bool>& ambiguous) {
    const auto l = logits.to_f32();
    const std::int64_t k_count = logits.shape()[1];
    const std::size_t per = l.size() / static_cast<std::size_t>(k_count);
    std::vector<std::uint8_t> labels(per, 0);
    ambiguous.assign(per, false);
    for (std::size_t i = 0; i < per; ++i) {
      double best = -1e30;
      for (std::int64_t k = 0; k < k_count; ++k) {
        const double v = l[static_cast<std::size_t>(k) * per + i];
        if (std::abs(v) < 2e-3) ambiguous[i] = true;
        if (v > 0.0) {
          if (std::abs(v - best) < 2e-3) ambiguous[i] = true;
          if (v > best) {
            best = v;
            labels[i] = static_cast<std::uint8_t>(k + 1);
          }
        }
      }
    }
    return labels;
  }

  static void expect_labels_match(const fs::path& npy, const Tensor& logits) {
    std::vector<bool> ambiguous;
    const auto want = expected_labels(logits, ambiguous);
    const auto got_t = medport::ckpt::read_npy_file(npy);
    ASSERT_EQ(got_t.shape(), (medport::Shape{16, 64, 64}));
    ASSERT_EQ(got_t.dtype(), medport::DType::U8);
    const auto* got = got_t.data<std::uint8_t>();
    std::size_t differ = 0, unexplained = 0;
    for (std::size_t i = 0; i < want.size(); ++i)
      if (got[i] != want[i]) {
        ++differ;
        if (!ambiguous[i]) ++unexplained;
      }
    EXPECT_EQ(unexplained, 0U) << differ << " voxels differ";
    EXPECT_LE(differ, want.size() / 500) << "more than 0.2% of the voxels differ";
  }

  static std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

};

TEST_F(CliFewshot, OneShotMasksAreTheThresholdedReferenceLogits) {
  TempDir out;
  const auto r = run_medport({"fewshot", model().string(), "--support", (data() / "support.npy").string(), "--support-mask",
                              (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(), "-o",
                              out.path().string(), "--normalize", "none", "--format", "npy", "--montage",
                              "--save-confidence", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_labels_match(out / "query_labels.npy", ref("logits"));

  const auto j = medport::testing::read_json(out / "query.json");
  EXPECT_EQ(j["case"], "query");
  EXPECT_EQ(j["strategy"], "one-shot");
  ASSERT_EQ(j["classes"].size(), 2U);
  EXPECT_EQ(j["classes"][0]["id"], 1);
  EXPECT_EQ(j["classes"][1]["id"], 2);
  // Voxel counts and confidence from the reference logits (npy spacing is 1 mm: 1000 voxels = 1 mL).
  const auto logits = ref("logits").to_f32();
  const std::size_t per = logits.size() / 2;
  double confidence = 0.0;
  for (std::size_t k = 0; k < 2; ++k) {
    std::int64_t voxels = 0;
    for (std::size_t i = 0; i < per; ++i) voxels += logits[k * per + i] > 0.0F ? 1 : 0;
    EXPECT_NEAR(j["classes"][k]["voxels"].get<double>(), static_cast<double>(voxels), 20.0);
    EXPECT_NEAR(j["classes"][k]["volume_ml"].get<double>(), voxels / 1000.0, 0.02);
  }
  for (float l : logits) {
    const double p = 1.0 / (1.0 + std::exp(-static_cast<double>(l)));
    confidence += std::max(p, 1.0 - p);
  }
  EXPECT_NEAR(j["mean_confidence"].get<double>(), confidence / static_cast<double>(logits.size()), 1e-4);
  // Quality checks with the guide's defaults, each with a verdict and a reason.
  ASSERT_EQ(j["quality"]["checks"].size(), 2U);
  EXPECT_EQ(j["quality"]["checks"][0]["name"], "min_confidence");
  EXPECT_EQ(j["quality"]["checks"][0]["threshold"], 0.7);
  EXPECT_EQ(j["quality"]["checks"][1]["name"], "max_volume_ratio");
  EXPECT_FALSE(j["quality"]["checks"][1]["reason"].get<std::string>().empty());
  EXPECT_TRUE(j["quality"]["passed"].is_boolean());
  // Input identity and timings.
  EXPECT_EQ(j["inputs"]["query"]["sha256"].get<std::string>().size(), 64U);
  EXPECT_EQ(j["inputs"]["supports"][0]["mask_sha256"].get<std::string>().size(), 64U);
  EXPECT_EQ(j["inputs"]["supports"][0]["foreground_voxels"]["1"], 4305);
  EXPECT_EQ(j["inputs"]["supports"][0]["foreground_voxels"]["2"], 6074);
  for (const char* t : {"read_s", "predict_s", "postprocess_s", "write_s", "total_s"}) EXPECT_TRUE(j["timings"][t].is_number()) << t;
  EXPECT_TRUE(j["config_file"].is_null());
  // Outputs: montage PNG, confidence map, batch summary.
  EXPECT_EQ(j["outputs"]["labels"], "query_labels.npy");
  const cv::Mat montage = cv::imread((out / "query_montage.png").string());
  EXPECT_FALSE(montage.empty());
  const auto conf = medport::ckpt::read_npy_file(out / "query_confidence.npy");
  EXPECT_EQ(conf.shape(), (medport::Shape{16, 64, 64}));
  for (float c : conf.to_f32()) ASSERT_TRUE(c >= 0.0F && c <= 1.0F);
  const auto summary = medport::testing::read_json(out / "batch_summary.json");
  EXPECT_EQ(summary["counts"]["ok"], 1);
  EXPECT_EQ(summary["counts"]["failed"], 0);
  EXPECT_EQ(summary["cases"][0]["status"], "ok");
}

TEST_F(CliFewshot, NiftiOutputKeepsShapeAndSpacing) {
  TempDir out;
  const auto r = run_medport({"fewshot", model().string(), "--support", (data() / "support.npy").string(), "--support-mask",
                              (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(), "-o",
                              out.path().string(), "--normalize", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(out / "query_labels.nii.gz"));
  const auto j = medport::testing::read_json(out / "query.json");
  EXPECT_EQ(j["outputs"]["labels"], "query_labels.nii.gz");
}

TEST_F(CliFewshot, EnsembleOfThreeSupportsMeansTheirEmbeddings) {
  TempDir out;
  std::vector<std::string> args{"fewshot", model().string()};
  for (int i = 0; i < 3; ++i) {
    args.insert(args.end(), {"--support", (data() / ("ens" + std::to_string(i) + ".npy")).string(), "--support-mask",
                             (data() / ("ens" + std::to_string(i) + "_mask.npy")).string()});
  }
  args.insert(args.end(), {"--strategy", "ensemble", "--query", (data() / "query.npy").string(), "-o", out.path().string(),
                           "--normalize", "none", "--format", "npy"});
  const auto r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_labels_match(out / "query_labels.npy", ref("ensemble_logits"));
  const auto j = medport::testing::read_json(out / "query.json");
  EXPECT_EQ(j["strategy"], "ensemble");
  EXPECT_EQ(j["strategy_details"]["ensemble"], "mean");
  EXPECT_EQ(j["inputs"]["supports"].size(), 3U);
}

TEST_F(CliFewshot, MemoryBankPrototypes) {
  TempDir out;
  medport::ckpt::write_npz(out / "bank.npz", {{"class_1", ref("memory_class1")}, {"class_2", ref("memory_class2")}});
  const auto r = run_medport({"fewshot", model().string(), "--strategy", "memory", "--bank", (out / "bank.npz").string(),
                              "--query", (data() / "query.npy").string(), "-o", (out / "res").string(), "--normalize",
                              "none", "--format", "npy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_labels_match(out / "res" / "query_labels.npy", ref("memory_logits"));
  const auto j = medport::testing::read_json(out / "res" / "query.json");
  EXPECT_EQ(j["strategy"], "memory");
  EXPECT_EQ(j["classes"].size(), 2U);
  // A class the bank lacks is a bad input.
  const auto missing = run_medport({"fewshot", model().string(), "--strategy", "memory", "--bank", (out / "bank.npz").string(),
                                    "--classes", "3", "--query", (data() / "query.npy").string(), "-o", (out / "x").string()});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_TRUE(contains(missing.err, "class 3")) << missing.err;
  EXPECT_FALSE(fs::exists(out / "x"));
}

TEST_F(CliFewshot, WeightedAndConfidenceEnsembles) {
  std::vector<std::string> base{"fewshot", model().string()};
  for (int i = 0; i < 3; ++i)
    base.insert(base.end(), {"--support", (data() / ("ens" + std::to_string(i) + ".npy")).string(), "--support-mask",
                             (data() / ("ens" + std::to_string(i) + "_mask.npy")).string()});
  base.insert(base.end(), {"--strategy", "ensemble", "--query", (data() / "query.npy").string(), "--normalize", "none",
                           "--format", "npy"});
  // weighted: w_i = foreground size of support i's mask / total (3991, 8847, 5245 voxels).
  TempDir out;
  auto args = base;
  args.insert(args.end(), {"--ensemble", "weighted", "-o", (out / "w").string()});
  auto r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = medport::testing::read_json(out / "w" / "query.json");
  EXPECT_EQ(j["strategy_details"]["ensemble"], "weighted");
  const double total = 3991.0 + 8847.0 + 5245.0;
  ASSERT_EQ(j["strategy_details"]["weights"].size(), 3U);
  EXPECT_NEAR(j["strategy_details"]["weights"][0][0].get<double>(), 3991.0 / total, 1e-12);
  EXPECT_NEAR(j["strategy_details"]["weights"][1][0].get<double>(), 8847.0 / total, 1e-12);
  EXPECT_NEAR(j["strategy_details"]["weights"][2][0].get<double>(), 5245.0 / total, 1e-12);
  // confidence: one score per support, the best one alone gets the weight.
  args = base;
  args.insert(args.end(), {"--ensemble", "confidence", "-o", (out / "c").string()});
  r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = medport::testing::read_json(out / "c" / "query.json");
  ASSERT_EQ(j["strategy_details"]["scores"].size(), 3U);
  double best = 0.0, weight_sum = 0.0;
  std::size_t best_index = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const double score = j["strategy_details"]["scores"][i][0].get<double>();
    EXPECT_GE(score, 0.5);
    EXPECT_LE(score, 1.0);
    if (score > best) best = score, best_index = i;
    weight_sum += j["strategy_details"]["weights"][i][0].get<double>();
  }
  EXPECT_DOUBLE_EQ(weight_sum, 1.0);
  EXPECT_EQ(j["strategy_details"]["weights"][best_index][0], 1.0);
}

TEST_F(CliFewshot, InContextTuningMatchesTheReferenceTuner) {
  // The fixture tuned the support's embeddings for 5 Adam steps (lr 1e-3) against the query masks.
  TempDir out;
  const auto r = run_medport({"fewshot", model().string(), "--strategy", "tune", "--tune-steps", "5", "--tune-lr", "1e-3",
                              "--support", (data() / "support.npy").string(), "--support-mask",
                              (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(),
                              "--query-mask", (data() / "query_mask.npy").string(), "-o", out.path().string(),
                              "--normalize", "none", "--format", "npy"});
  if (r.exit_code == 3 && contains(r.err, "tune_step.onnx")) GTEST_SKIP() << "this build converts without tune_step.onnx";
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_labels_match(out / "query_labels.npy", ref("tuned_logits"));
  const auto j = medport::testing::read_json(out / "query.json");
  EXPECT_EQ(j["strategy"], "tune");
  const auto& losses = j["strategy_details"]["losses"];
  ASSERT_EQ(losses.size(), 6U);
  EXPECT_NEAR(losses[0].get<double>(), ref("tuning_loss_before").to_f32()[0], 1e-4);
  EXPECT_NEAR(losses[5].get<double>(), ref("tuning_loss_after").to_f32()[0], 1e-4);
  EXPECT_EQ(j["strategy_details"]["target"], "query mask");
  EXPECT_TRUE(j["classes"][0]["dice"].is_number());
}

TEST_F(CliFewshot, UpdateBankStoresTheSupportsThenRetrieves) {
  // A new bank learns the support's embeddings (first sighting: stored as they are), so memory
  // retrieval gives the one-shot prediction.
  TempDir out;
  const std::vector<std::string> args{"fewshot", model().string(), "--strategy", "memory", "--bank",
                                      (out / "bank.npz").string(), "--update-bank", "--support",
                                      (data() / "support.npy").string(), "--support-mask",
                                      (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(),
                                      "-o", (out / "res").string(), "--normalize", "none", "--format", "npy"};
  auto r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_labels_match(out / "res" / "query_labels.npy", ref("logits"));
  auto bank = medport::ckpt::NpzFile::open(out / "bank.npz");
  ASSERT_TRUE(bank.contains("class_1") && bank.contains("class_2"));
  EXPECT_EQ(bank.read("count_1").to_f32()[0], 1.0F);
  r = run_medport({"fewshot", model().string(), "--strategy", "memory", "--bank", (out / "bank.npz").string(),
                   "--update-bank", "--support", (data() / "support.npy").string(), "--support-mask",
                   (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(), "-o",
                   (out / "res2").string(), "--normalize", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(medport::ckpt::NpzFile::open(out / "bank.npz").read("count_2").to_f32()[0], 2.0F);
  // --update-bank never writes into the model folder.
  r = run_medport({"fewshot", model().string(), "--strategy", "memory", "--update-bank", "--support",
                   (data() / "support.npy").string(), "--support-mask", (data() / "support_mask.npy").string(), "--query",
                   (data() / "query.npy").string(), "-o", (out / "res3").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(CliFewshot, ConfigFileAndFlagsOverrideIt) {
  TempDir out;
  fs::copy_file(data() / "support.npy", out / "s.npy");
  fs::copy_file(data() / "support_mask.npy", out / "m.npy");
  std::ofstream(out / "inference.yaml") << "strategy: one-shot\n"
                                           "threshold: 0.5\n"
                                           "class_names: {1: liver, 2: spleen}\n"
                                           "supports:\n"
                                           "  - {image: s.npy, mask: m.npy}\n"
                                           "preprocessing: {normalize: none}\n"
                                           "postprocessing:\n"
                                           "  largest_component: true\n"
                                           "  connectivity: 6\n"
                                           "quality:\n"
                                           "  min_confidence: 0.999\n"
                                           "  max_volume_ratio: null\n"
                                           "output: {format: npy}\n";
  const auto r = run_medport({"fewshot", model().string(), "--config", (out / "inference.yaml").string(), "--threshold",
                              "0.6", "--query", (data() / "query.npy").string(), "-o", (out / "res").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = medport::testing::read_json(out / "res" / "query.json");
  EXPECT_EQ(j["config_file"], (out / "inference.yaml").string());
  EXPECT_EQ(j["threshold"], 0.6);  // the flag wins over the file
  EXPECT_EQ(j["postprocessing"]["largest_component"], true);
  EXPECT_EQ(j["postprocessing"]["connectivity"], 6);
  EXPECT_EQ(j["classes"][0]["name"], "liver");
  EXPECT_EQ(j["classes"][1]["name"], "spleen");
  ASSERT_EQ(j["quality"]["checks"].size(), 1U);  // max_volume_ratio: null switches that check off
  EXPECT_EQ(j["quality"]["passed"], false);
  EXPECT_TRUE(contains(j["quality"]["checks"][0]["reason"].get<std::string>(), "low confidence"));
  EXPECT_TRUE(fs::is_regular_file(out / "res" / "query_labels.npy"));
  const auto summary = medport::testing::read_json(out / "res" / "batch_summary.json");
  EXPECT_EQ(summary["counts"]["quality_failed"], 1);

  // Unknown keys are refused, naming the file and the key; nothing is written.
  std::ofstream(out / "bad.yaml") << "strategy: one-shot\npostprocessing:\n  largest_componet: true\n";
  const auto bad = run_medport({"fewshot", model().string(), "--config", (out / "bad.yaml").string(), "--support",
                                (out / "s.npy").string(), "--support-mask", (out / "m.npy").string(), "--query",
                                (data() / "query.npy").string(), "-o", (out / "bad").string()});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_TRUE(contains(bad.err, "bad.yaml")) << bad.err;
  EXPECT_TRUE(contains(bad.err, "postprocessing.largest_componet")) << bad.err;
  EXPECT_FALSE(fs::exists(out / "bad"));
}

TEST_F(CliFewshot, BadCaseIsSkippedAndNothingIsHalfWritten) {
  TempDir out;
  fs::create_directories(out / "queries");
  fs::copy_file(data() / "query.npy", out / "queries" / "a.npy");
  std::ofstream(out / "queries" / "b.npy") << "\x93NUMPY garbage";
  fs::copy_file(data() / "query.npy", out / "queries" / "c.npy");
  const std::vector<std::string> args{"fewshot", model().string(), "--support", (data() / "support.npy").string(),
                                      "--support-mask", (data() / "support_mask.npy").string(), "--query-dir",
                                      (out / "queries").string(), "-o", (out / "res").string(), "--format", "npy"};
  const auto r = run_medport(args);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "b.npy")) << r.err;
  EXPECT_EQ(files_in(out / "res"), (std::vector<std::string>{"a.json", "a_labels.npy", "batch_summary.json", "c.json",
                                                             "c_labels.npy"}));
  const auto summary = medport::testing::read_json(out / "res" / "batch_summary.json");
  EXPECT_EQ(summary["counts"]["ok"], 2);
  EXPECT_EQ(summary["counts"]["failed"], 1);
  EXPECT_EQ(summary["cases"][1]["status"], "failed");
  EXPECT_TRUE(contains(summary["cases"][1]["error"].get<std::string>(), "b.npy"));

  // Resuming: finished cases are skipped, the bad one is tried again.
  const auto before = fs::last_write_time(out / "res" / "a_labels.npy");
  fs::remove(out / "res" / "c.json");
  const auto again = run_medport(args);
  EXPECT_EQ(again.exit_code, 3);
  EXPECT_TRUE(contains(again.err, "already done")) << again.err;
  EXPECT_EQ(fs::last_write_time(out / "res" / "a_labels.npy"), before);
  const auto second = medport::testing::read_json(out / "res" / "batch_summary.json");
  EXPECT_EQ(second["counts"]["skipped"], 1);
  EXPECT_EQ(second["counts"]["ok"], 1);  // c, whose report was removed
  EXPECT_EQ(second["counts"]["failed"], 1);

  // Without the bad case everything is done already: exit 0.
  fs::remove(out / "queries" / "b.npy");
  const auto done = run_medport(args);
  EXPECT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(medport::testing::read_json(out / "res" / "batch_summary.json")["counts"]["skipped"], 2);
}

TEST_F(CliFewshot, EngineFailureStopsTheBatchWithTheFinishedCasesIntact) {
  // A copy of the model whose forward graph fails inside ONNX Runtime on a query holding a value
  // above 1e6: queries a, b (with such a value), c.
  TempDir out;
  const fs::path trapped = out / "model";
  fs::create_directories(trapped);
  for (const auto& e : fs::directory_iterator(model()))
    if (e.path().filename() != "forward.onnx") fs::copy(e.path(), trapped / e.path().filename());
  MEDPORT_ENGINE_FAILURE_MODEL_OR_SKIP(model() / "forward.onnx", trapped / "forward.onnx", "query_image", 1e6);
  fs::create_directories(out / "queries");
  for (const char* name : {"a", "b", "c"}) fs::copy_file(data() / "query.npy", out / "queries" / (std::string(name) + ".npy"));
  auto q = ref("query_image").reshaped({16, 64, 64}).to_f32();
  q[1234] = 1e7F;
  medport::ckpt::write_npy_file(out / "queries" / "b.npy", Tensor::from_f32({16, 64, 64}, q));
  auto args = [&](const fs::path& model_dir) {
    return std::vector<std::string>{"fewshot", model_dir.string(), "--support", (data() / "support.npy").string(),
                                    "--support-mask", (data() / "support_mask.npy").string(), "--query-dir",
                                    (out / "queries").string(), "-o", (out / "res").string(), "--normalize", "none",
                                    "--format", "npy", "--montage"};
  };
  auto r = run_medport(args(trapped));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "engine error")) << r.err;
  EXPECT_TRUE(contains(r.err, "batch stopped by an engine failure; the 1 case(s) finished before it are complete")) << r.err;
  EXPECT_EQ(files_in(out / "res"), (std::vector<std::string>{"a.json", "a_labels.npy", "a_montage.png", "batch_summary.json"}));
  expect_labels_match(out / "res" / "a_labels.npy", ref("logits"));
  const auto summary = medport::testing::read_json(out / "res" / "batch_summary.json");
  EXPECT_EQ(summary["counts"]["ok"], 1);
  EXPECT_EQ(summary["stopped"]["case"], "b");
  EXPECT_TRUE(contains(summary["stopped"]["error"].get<std::string>(), "onnxruntime")) << summary.dump();
  // Resumed with the intact model, the batch finishes what was left.
  r = run_medport(args(model()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto resumed = medport::testing::read_json(out / "res" / "batch_summary.json");
  EXPECT_EQ(resumed["counts"]["skipped"], 1);
  EXPECT_EQ(resumed["counts"]["ok"], 2);
  EXPECT_FALSE(resumed.contains("stopped"));
}

TEST_F(CliFewshot, BadSupportFailsBeforeWritingAnything) {
  TempDir out;
  std::ofstream(out / "empty_mask.npy") << "";
  const auto r = run_medport({"fewshot", model().string(), "--support", (data() / "support.npy").string(), "--support-mask",
                              (out / "empty_mask.npy").string(), "--query", (data() / "query.npy").string(), "-o",
                              (out / "res").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "empty_mask.npy")) << r.err;
  EXPECT_FALSE(fs::exists(out / "res"));
}

TEST_F(CliFewshot, TwoDimensionalPngQueryComesBackAtItsOwnSize) {
  TempDir out;
  // A 40x50 PNG query; support: the middle slice of the fixture support as a 64x64 PNG pair.
  cv::Mat query(40, 50, CV_8UC1);
  for (int r = 0; r < 40; ++r)
    for (int c = 0; c < 50; ++c) query.at<std::uint8_t>(r, c) = static_cast<std::uint8_t>((r * 5 + c * 3) % 256);
  cv::imwrite((out / "q.png").string(), query);
  const auto s = ref("support_image").to_f32();
  const auto m = ref("support_masks").to_f32();
  cv::Mat support(64, 64, CV_8UC1), mask(64, 64, CV_8UC1);
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < 64; ++c) {
      const std::size_t i = 8 * 64 * 64 + static_cast<std::size_t>(r * 64 + c);
      support.at<std::uint8_t>(r, c) = cv::saturate_cast<std::uint8_t>(128 + 40 * s[i]);
      mask.at<std::uint8_t>(r, c) = (m[i] > 0.5F || m[16 * 64 * 64 + i] > 0.5F) ? 1 : 0;
    }
  cv::imwrite((out / "s.png").string(), support);
  cv::imwrite((out / "m.png").string(), mask);
  const auto r = run_medport({"fewshot", model().string(), "--support", (out / "s.png").string(), "--support-mask",
                              (out / "m.png").string(), "--query", (out / "q.png").string(), "-o", (out / "res").string(),
                              "--format", "png", "--montage"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat labels = cv::imread((out / "res" / "q_labels.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(labels.empty());
  EXPECT_EQ(labels.rows, 40);
  EXPECT_EQ(labels.cols, 50);
  const auto j = medport::testing::read_json(out / "res" / "q.json");
  EXPECT_TRUE(j["classes"][0].contains("area_mm2"));
  EXPECT_TRUE(fs::is_regular_file(out / "res" / "q_montage.png"));
}

TEST_F(CliFewshot, UsageErrors) {
  TempDir out;
  const std::string s = (data() / "support.npy").string(), m = (data() / "support_mask.npy").string(),
                    q = (data() / "query.npy").string();
  // Two supports with an explicit one-shot.
  auto r = run_medport({"fewshot", model().string(), "--strategy", "one-shot", "--support", s, "--support-mask", m,
                        "--support", s, "--support-mask", m, "--query", q, "-o", out.path().string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "ensemble")) << r.err;
  // A support without its mask.
  r = run_medport({"fewshot", model().string(), "--support", s, "--query", q, "-o", out.path().string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // No query.
  r = run_medport({"fewshot", model().string(), "--support", s, "--support-mask", m, "-o", out.path().string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // Bad values.
  r = run_medport({"fewshot", model().string(), "--support", s, "--support-mask", m, "--query", q, "-o",
                   out.path().string(), "--threshold", "1.5"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_medport({"fewshot", model().string(), "--support", s, "--support-mask", m, "--query", q, "-o",
                   out.path().string(), "--classes", "1,x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // Not a model folder.
  r = run_medport({"fewshot", out.path().string(), "--support", s, "--support-mask", m, "--query", q, "-o",
                   (out / "res").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(fs::is_empty(out.path()));
}

}  // namespace
