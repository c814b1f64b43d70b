// `medport fewshot` as the IRIS inference guide's users run it (issue 16), through the built
// binary on the IRIS fixture: the guide's example configuration unchanged, its strategy names
// and 0-based class ids, unknown or doubled keys refused by name, support pools, user-weighted
// and soft ensembles, probabilities and logits, post-processing, the bank learning from labelled
// queries and batched queries equal to single ones.
#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "medport/checkpoint/npy.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/util/file_io.hpp"
#include "iris_cli_test.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using medport::Tensor;
using medport::testing::read_json;
using medport::testing::run_medport;
using medport::testing::TempDir;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Section 12.5 of the guide (docs/INFERENCE_GUIDE.md, "Example: config/inference.yaml"), verbatim.
constexpr const char* kGuideExample = R"(# IRIS Inference Configuration

model:
  checkpoint: "checkpoints/production/final_model.pt"
  in_channels: 1
  base_channels: 32
  num_query_tokens: 8
  num_attention_heads: 8
  volume_shape: [16, 256, 256]

inference:
  strategy: "ensemble"  # oneshot, ensemble, memory_bank, tuning
  num_support: 3
  threshold: 0.5
  batch_size: 8
  
  # Strategy-specific settings
  tuning:
    learning_rate: 0.001
    steps: 20
  
  ensemble:
    aggregation: "mean"  # mean, weighted, confidence

device:
  type: "cuda"  # cuda, cpu
  gpu_id: 0

output:
  format: "npy"  # npy, nifti, dicom
  save_probabilities: true
  save_visualization: true

quality_assurance:
  enabled: true
  min_confidence: 0.7
  max_volume_ratio: 0.8
)";

class CliFewshotGuide : public medport::testing::IrisCliTest {
 protected:
  static void SetUpTestSuite() {
    convert_fixture_and_write_inputs();
    if (!ref_) return;
    medport::ckpt::write_npy_file(data() / "query_mask.npy", ref("query_masks").reshaped({2, 16, 64, 64}));
    // A support pool as the guide's scripts lay it out: <name>_image.npy + <name>_mask.npy, the
    // reference ensemble's three supports (label maps of class 1), plus an image without a mask.
    fs::create_directories(pool());
    for (int i = 0; i < 3; ++i) {
      const std::string n = "s" + std::to_string(i);
      medport::ckpt::write_npy_file(pool() / (n + "_image.npy"), ref_row("ensemble_images", i, 3));
      medport::ckpt::write_npy_file(pool() / (n + "_mask.npy"), ref_row("ensemble_masks", i, 3).to(medport::DType::U8));
    }
    medport::ckpt::write_npy_file(pool() / "unlabelled_image.npy", ref("query_image").reshaped({16, 64, 64}));
  }
  static void TearDownTestSuite() { release_fixture(); }

  static fs::path pool() { return tmp_->path() / "pool"; }
  static std::string q() { return (data() / "query.npy").string(); }
  // fewshot with a config file over the support pool, one query, results into OUT/res.
  static medport::testing::CommandResult with_config(const fs::path& config, const fs::path& out) {
    return run_medport({"fewshot", model().string(), "--config", config.string(), "--support-dir", pool().string(), "--query",
                        q(), "-o", (out / "res").string()});
  }
  static std::vector<std::string> one_shot(const fs::path& out) {
    return {"fewshot", model().string(), "--support", (data() / "support.npy").string(), "--support-mask",
            (data() / "support_mask.npy").string(), "--query", q(), "-o", out.string(), "--normalize", "none",
            "--format", "npy"};
  }
};

TEST_F(CliFewshotGuide, TheGuidesExampleConfigurationRunsUnchanged) {
  TempDir out;
  std::ofstream(out / "inference.yaml") << kGuideExample;
  const auto r = run_medport({"fewshot", model().string(), "--config", (out / "inference.yaml").string(), "--support-dir",
                              pool().string(), "--query", q(), "-o", (out / "res").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = read_json(out / "res" / "query.json");
  EXPECT_EQ(j["strategy"], "ensemble");
  EXPECT_EQ(j["strategy_details"]["ensemble"], "mean");
  EXPECT_EQ(j["strategy_details"]["supports"], 3);
  EXPECT_EQ(j["inputs"]["support_pool"]["num_support"], 3);
  EXPECT_EQ(j["inputs"]["support_pool"]["candidates"], 3);  // the image without a mask is left out
  EXPECT_EQ(j["threshold"], 0.5);
  ASSERT_EQ(j["quality"]["checks"].size(), 2u);
  // output: npy label map, probabilities, visualization (the montage)
  EXPECT_EQ(j["outputs"]["labels"], "query_labels.npy");
  EXPECT_EQ(j["outputs"]["probabilities"], "query_probabilities.npy");
  EXPECT_TRUE(fs::exists(out / "res" / "query_montage.png"));
  // The model block describes another model (base 32, 16x256x256): said, not hidden.
  EXPECT_TRUE(contains(r.err, "model.base_channels")) << r.err;
  EXPECT_TRUE(contains(r.err, "model.volume_shape")) << r.err;
  EXPECT_EQ(j["model"]["config_mismatches"].size(), 2u) << j["model"].dump();
  // device cuda: used where available, else cpu with a note.
  const std::string device = j["device"];
  EXPECT_TRUE(device == "cuda" || contains(device, "ran on cpu")) << device;
  // The guide's "memory_bank" / "tuning" / "oneshot" names work too.
  for (const auto& [name, medport_name] : {std::pair<std::string, std::string>{"oneshot", "one-shot"}, {"tuning", "tune"}}) {
    std::string text = kGuideExample;
    text.replace(text.find("\"ensemble\"  #"), 10, "\"" + name + "\"");
    text.replace(text.find("num_support: 3"), 14, "num_support: 1");
    text.replace(text.find("steps: 20"), 9, "steps: 1");
    std::ofstream(out / (name + ".yaml")) << text;
    const auto r2 = run_medport({"fewshot", model().string(), "--config", (out / (name + ".yaml")).string(), "--support-dir",
                                 pool().string(), "--query", q(), "-o", (out / name).string()});
    ASSERT_EQ(r2.exit_code, 0) << name << r2.err;
    EXPECT_EQ(read_json(out / name / "query.json")["strategy"], medport_name);
  }
}

TEST_F(CliFewshotGuide, UnknownOrDoubledKeysAreRefusedByName) {
  TempDir out;
  std::ofstream(out / "typo.yaml") << "inference:\n  stratgy: ensemble\n";
  auto r = with_config(out / "typo.yaml", out.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "typo.yaml")) << r.err;
  EXPECT_TRUE(contains(r.err, "'inference.stratgy': unknown key")) << r.err;
  std::ofstream(out / "twice.yaml") << "strategy: one-shot\ninference:\n  strategy: ensemble\n";
  r = with_config(out / "twice.yaml", out.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "'inference.strategy'") && contains(r.err, "'strategy'")) << r.err;
  std::ofstream(out / "dicom.yaml") << "output:\n  format: dicom\n";
  r = with_config(out / "dicom.yaml", out.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "DICOM")) << r.err;
  EXPECT_FALSE(fs::exists(out / "res"));
}

// A value the settings refuse is an error in the file (exit 3, named); the same value given as a
// flag stays a usage error (exit 2).
TEST_F(CliFewshotGuide, ValuesOutOfRangeNameTheConfigFile) {
  TempDir out;
  std::ofstream(out / "steps.yaml") << "tuning:\n  steps: 99999\n";
  auto r = with_config(out / "steps.yaml", out.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "steps.yaml") && contains(r.err, "tuning steps must lie in 0..10000")) << r.err;
  std::ofstream(out / "threads.json") << R"({"threads": -2})";
  r = with_config(out / "threads.json", out.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "threads.json") && contains(r.err, "threads must not be negative")) << r.err;
  r = run_medport({"fewshot", model().string(), "--tune-steps", "99999", "--strategy", "tune", "--support-dir", pool().string(),
                   "--query", q(), "-o", (out / "res").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(fs::exists(out / "res"));
}

TEST_F(CliFewshotGuide, GuideStrategyNamesAndZeroBasedClassIds) {
  TempDir out;
  auto args = one_shot(out / "a");
  args.insert(args.end(), {"--strategy", "oneshot", "--class-id", "1"});
  auto r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = read_json(out / "a" / "query.json");
  EXPECT_EQ(j["strategy"], "one-shot");
  ASSERT_EQ(j["classes"].size(), 1u);
  EXPECT_EQ(j["classes"][0]["id"], 2);  // class_id 1 is label value 2
  args = one_shot(out / "b");
  args.insert(args.end(), {"--strategy", "sideways"});
  EXPECT_EQ(run_medport(args).exit_code, 2);
}

TEST_F(CliFewshotGuide, SupportPoolsAreSeededAndReported) {
  TempDir out;
  auto pooled = [&](const std::string& select, const std::string& seed, const fs::path& res) {
    return run_medport({"fewshot", model().string(), "--support-dir", pool().string(), "--num-support", "2", "--select",
                        select, "--seed", seed, "--query", q(), "-o", res.string(), "--normalize", "none", "--format", "npy"});
  };
  std::map<std::string, int> seen;
  for (const std::string seed : {"1", "2", "3", "4", "5"}) {
    const auto r = pooled("random", seed, out / ("r" + seed));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto pool_report = read_json(out / ("r" + seed) / "query.json")["inputs"]["support_pool"];
    EXPECT_EQ(pool_report["select"], "random");
    EXPECT_EQ(pool_report["seed"], std::stoi(seed));
    ASSERT_EQ(pool_report["chosen"].size(), 2u);
    seen[pool_report["chosen"].dump()]++;
  }
  EXPECT_GT(seen.size(), 1u);  // seeds choose differently...
  ASSERT_EQ(pooled("random", "3", out / "again").exit_code, 0);
  EXPECT_EQ(read_json(out / "again" / "query.json")["inputs"]["support_pool"]["chosen"],
            read_json(out / "r3" / "query.json")["inputs"]["support_pool"]["chosen"]);  // ...the same seed alike

  // quality: the two best-scoring supports, every score reported
  ASSERT_EQ(pooled("quality", "0", out / "q").exit_code, 0);
  const auto quality = read_json(out / "q" / "query.json")["inputs"]["support_pool"];
  ASSERT_EQ(quality["quality"].size(), 3u);
  std::vector<std::pair<double, std::string>> scores;
  for (const auto& [name, score] : quality["quality"].items()) scores.emplace_back(score.get<double>(), name);
  std::sort(scores.rbegin(), scores.rend());
  std::vector<std::string> best{scores[0].second, scores[1].second};
  std::sort(best.begin(), best.end());
  EXPECT_EQ(quality["chosen"], best);
  // diversity: two supports, each candidate's similarity to the chosen ones reported
  ASSERT_EQ(pooled("diversity", "0", out / "d").exit_code, 0);
  const auto diverse = read_json(out / "d" / "query.json")["inputs"]["support_pool"];
  EXPECT_EQ(diverse["chosen"].size(), 2u);
  EXPECT_EQ(diverse["similarity_to_chosen"].size(), 3u);
  // More supports than the pool holds is the folder's fault.
  const auto r = run_medport({"fewshot", model().string(), "--support-dir", pool().string(), "--num-support", "4", "--query",
                              q(), "-o", (out / "x").string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(contains(r.err, "3 support pair(s)")) << r.err;
}

TEST_F(CliFewshotGuide, UserWeightsAndTheSoftEnsemble) {
  TempDir out;
  auto ensemble = [&](std::vector<std::string> extra, const fs::path& res) {
    std::vector<std::string> a{"fewshot", model().string(), "--support-dir", pool().string(), "--num-support", "3",
                               "--query", q(), "-o", res.string(), "--normalize", "none", "--format", "npy",
                               "--save-probabilities"};
    a.insert(a.end(), extra.begin(), extra.end());
    return run_medport(a);
  };
  // weights 1,0,0: the first support alone, i.e. its one-shot prediction
  auto r = ensemble({"--ensemble", "weighted", "--ensemble-weights", "2,0,0"}, out / "w");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto w = read_json(out / "w" / "query.json")["strategy_details"]["weights"];
  EXPECT_EQ(w[0][0], 1.0);
  EXPECT_EQ(w[1][0], 0.0);
  r = run_medport({"fewshot", model().string(), "--support", (pool() / "s0_image.npy").string(), "--support-mask",
                   (pool() / "s0_mask.npy").string(), "--query", q(), "-o", (out / "s0").string(), "--normalize", "none",
                   "--format", "npy", "--save-probabilities"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(medport::read_file(out / "w" / "query_labels.npy"), medport::read_file(out / "s0" / "query_labels.npy"));
  EXPECT_EQ(ensemble({"--ensemble", "weighted", "--ensemble-weights", "1,1"}, out / "bad").exit_code, 2);

  // soft: the probabilities are sum_i w_i p_i with w_i = c_i / sum c_j, c_i = mean |p_i - 0.5|;
  // the per-support predictions p_i are the three supports' one-shot probabilities.
  r = ensemble({"--ensemble", "soft"}, out / "soft");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto details = read_json(out / "soft" / "query.json")["strategy_details"];
  EXPECT_EQ(details["ensemble"], "soft");
  std::vector<std::vector<float>> p;
  for (int i = 0; i < 3; ++i) {
    const auto res = out / ("one" + std::to_string(i));
    r = run_medport({"fewshot", model().string(), "--support", (pool() / ("s" + std::to_string(i) + "_image.npy")).string(),
                     "--support-mask", (pool() / ("s" + std::to_string(i) + "_mask.npy")).string(), "--query", q(), "-o",
                     res.string(), "--normalize", "none", "--format", "npy", "--save-probabilities"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    p.push_back(medport::ckpt::read_npy_file(res / "query_probabilities.npy").to_f32());
  }
  std::vector<double> c(3, 0.0);
  for (int i = 0; i < 3; ++i) {
    for (float v : p[static_cast<std::size_t>(i)]) c[static_cast<std::size_t>(i)] += std::abs(v - 0.5);
    c[static_cast<std::size_t>(i)] /= static_cast<double>(p[0].size());
    EXPECT_NEAR(details["confidences"][i][0].get<double>(), c[static_cast<std::size_t>(i)], 1e-6);
  }
  const double total = c[0] + c[1] + c[2];
  const auto fused = medport::ckpt::read_npy_file(out / "soft" / "query_probabilities.npy").to_f32();
  ASSERT_EQ(fused.size(), p[0].size());
  double worst = 0.0;
  for (std::size_t v = 0; v < fused.size(); ++v) {
    const double want = (c[0] * p[0][v] + c[1] * p[1][v] + c[2] * p[2][v]) / total;
    worst = std::max(worst, std::abs(want - fused[v]));
  }
  EXPECT_LE(worst, 1e-5);
}

TEST_F(CliFewshotGuide, ProbabilitiesLogitsAndPostProcessing) {
  TempDir out;
  auto args = one_shot(out / "a");
  args.insert(args.end(), {"--save-probabilities", "--save-logits"});
  auto r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto probs = medport::ckpt::read_npy_file(out / "a" / "query_probabilities.npy");
  const auto logits = medport::ckpt::read_npy_file(out / "a" / "query_logits.npy");
  ASSERT_EQ(probs.shape(), (medport::Shape{2, 16, 64, 64}));
  ASSERT_EQ(logits.shape(), (medport::Shape{2, 16, 64, 64}));
  // The query is at the model's volume: the probabilities are sigmoid(logits), the logits the reference's.
  const auto p = probs.to_f32(), x = logits.to_f32(), want = ref("logits").to_f32();
  double worst = 0.0, worst_logit = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    worst = std::max(worst, std::abs(p[i] - 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])))));
    worst_logit = std::max(worst_logit, static_cast<double>(std::abs(x[i] - want[i])));
  }
  EXPECT_LE(worst, 1e-6);
  EXPECT_LE(worst_logit, 1e-2);
  // NIfTI probabilities: C as the 4th dimension, read back as channels.
  args = one_shot(out / "n");
  args.back() = "nii.gz";
  args.push_back("--save-probabilities");
  r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto nifti = medport::imaging::read_image(out / "n" / "query_probabilities.nii.gz");
  EXPECT_EQ(nifti.shape, (medport::Shape{2, 16, 64, 64}));
  for (std::size_t i = 0; i < p.size(); i += 997) EXPECT_FLOAT_EQ(nifti.data[i], p[i]);

  // --min-object-size in mm3 is converted with the voxel size (npy: 1 mm) and reported; holes filled.
  args = one_shot(out / "pp");
  args.insert(args.end(), {"--min-object-size", "50mm3", "--fill-holes"});
  r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto post = read_json(out / "pp" / "query.json")["postprocessing"];
  EXPECT_EQ(post["min_object_voxels"], 50);
  EXPECT_EQ(post["fill_holes"], true);
  args = one_shot(out / "bad");
  args.insert(args.end(), {"--min-object-size", "50cm3"});
  EXPECT_EQ(run_medport(args).exit_code, 2);
}

TEST_F(CliFewshotGuide, TheBankLearnsFromLabelledQueries) {
  TempDir out;
  // One support and one labelled query: the bank holds both (two updates of each class).
  auto args = one_shot(out / "a");
  args.insert(args.end(), {"--bank", (out / "bank.npz").string(), "--update-bank", "--query-mask",
                           (data() / "query_mask.npy").string()});
  auto r = run_medport(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto bank = medport::ckpt::NpzFile::open(out / "bank.npz");
  EXPECT_EQ(bank.read("count_1").to_f32()[0], 2.0F);
  EXPECT_EQ(bank.read("count_2").to_f32()[0], 2.0F);
  EXPECT_TRUE(read_json(out / "a" / "query.json")["strategy_details"].contains("bank_learned_query"));
  // Without supports, only the labelled query teaches the bank (memory strategy on that bank).
  r = run_medport({"fewshot", model().string(), "--strategy", "memory", "--bank", (out / "bank.npz").string(), "--update-bank",
                   "--query", q(), "--query-mask", (data() / "query_mask.npy").string(), "-o", (out / "b").string(),
                   "--normalize", "none", "--format", "npy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(medport::ckpt::NpzFile::open(out / "bank.npz").read("count_1").to_f32()[0], 3.0F);
  // Neither supports nor a labelled query: nothing to learn from.
  r = run_medport({"fewshot", model().string(), "--strategy", "memory", "--bank", (out / "bank.npz").string(), "--update-bank",
                   "--query", q(), "-o", (out / "c").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(CliFewshotGuide, BatchedQueriesEqualSingleOnes) {
  TempDir out;
  fs::create_directories(out / "queries");
  const auto image = ref("query_image").reshaped({16, 64, 64}).to_f32();
  for (int i = 0; i < 5; ++i) {  // five different queries: the reference query, shifted and scaled
    std::vector<float> v(image.size());
    for (std::size_t k = 0; k < v.size(); ++k) v[k] = image[(k + 64 * static_cast<std::size_t>(i)) % v.size()] * (1.0F + 0.1F * i);
    medport::ckpt::write_npy_file(out / "queries" / ("q" + std::to_string(i) + ".npy"), Tensor::from_f32({16, 64, 64}, v));
  }
  medport::write_file_atomic(out / "queries" / "q2b.npy", std::string_view("not an array"));  // a bad one among them
  auto run = [&](const std::string& batch, const std::string& threads, const std::vector<std::string>& strategy) {
    std::vector<std::string> a{"fewshot", model().string(), "--query-dir", (out / "queries").string(), "-o",
                               (out / ("b" + batch + "t" + threads + strategy.back())).string(), "--normalize", "none",
                               "--format", "npy", "--save-probabilities", "--batch-size", batch, "--threads", threads};
    a.insert(a.end(), strategy.begin(), strategy.end());
    return run_medport(a);
  };
  auto probabilities = [&](const std::string& dir, const std::string& n) {
    return medport::ckpt::read_npy_file(out / dir / (n + "_probabilities.npy")).to_f32();
  };
  const std::vector<std::string> mean{"--support-dir", pool().string(), "--num-support", "3", "--ensemble", "mean"};
  const std::vector<std::string> best{"--support-dir", pool().string(), "--num-support", "3", "--ensemble", "confidence"};
  for (const auto& strategy : {mean, best}) {
    {
      const std::string threads = "2";
      const auto one = run("1", threads, strategy), four = run("4", threads, strategy);
      EXPECT_EQ(one.exit_code, 3) << one.err;  // the bad query fails alone
      EXPECT_EQ(four.exit_code, 3) << four.err;
      const std::string a = "b1t" + threads + strategy.back(), b = "b4t" + threads + strategy.back();
      EXPECT_FALSE(fs::exists(out / b / "q2b.json"));
      for (int i = 0; i < 5; ++i) {
        const std::string n = "q" + std::to_string(i);
        EXPECT_EQ(medport::read_file(out / a / (n + "_labels.npy")), medport::read_file(out / b / (n + "_labels.npy"))) << n;
        // The same up to float rounding: ONNX Runtime's kernels may sum a batch of 4 in another
        // order than a batch of 1 (differences of ~1e-7 in probabilities).
        const auto pa = probabilities(a, n), pb = probabilities(b, n);
        double worst = 0.0;
        for (std::size_t k = 0; k < pa.size(); ++k) worst = std::max(worst, static_cast<double>(std::abs(pa[k] - pb[k])));
        EXPECT_LE(worst, 1e-5) << n;
      }
    }
  }
  EXPECT_EQ(run("65", "1", mean).exit_code, 2);
}

}  // namespace
