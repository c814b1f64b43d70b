// The embedded demo IRIS model models/iris_phantom (tools/train_iris_demo.py) through the CLI as
// tools/demo_iris.sh runs it: converted from its training checkpoint (config and memory bank
// inside), then one-shot, ensemble, memory-bank and tuned few-shot segmentation of phantom frames
// it never saw (seed 7; training used 301-303) from one labelled patient, scored against the
// phantom's truth.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace {

using medport::testing::read_json;
using medport::testing::run_medport;
using medport::testing::TempDir;
namespace fs = std::filesystem;

// Mean Dice over the patient's four frames (LV, MYO, LA). Measured by tools/measure_iris_demo.py on
// 8 unseen patients (seeds 7, 2026, 2027, 11-15; docs/IRIS.md#the-demo-model): every strategy
// reaches LV 0.962-0.973, MYO 0.908-0.925, LA 0.939-0.963 (seed 7: 0.970, 0.913, 0.950). The
// bounds sit about 0.03-0.04 below the lowest patient; an untrained or broken model scores < 0.1.
const std::map<std::string, std::vector<double>> kMinDice{
    {"one-shot", {0.93, 0.87, 0.90}}, {"ensemble", {0.93, 0.87, 0.90}}, {"memory", {0.93, 0.87, 0.90}},
    {"tune", {0.93, 0.87, 0.90}}};

TEST(IrisDemoModel, SegmentsAnUnseenPhantomFromOneLabelledPatient) {
  const fs::path demo = medport::testing::source_dir() / "models" / "iris_phantom";
  ASSERT_TRUE(fs::exists(demo / "iris_phantom.pt")) << demo;
  TempDir dir;
  auto r = run_medport({"convert", (demo / "iris_phantom.pt").string(), "-o", (dir / "model").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::exists(dir / "model" / "memory_bank.npz"));  // the checkpoint's bank came along
  r = run_medport({"phantom", "-o", (dir / "phantoms").string(), "--patients", "2", "--seed", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path example = dir / "phantoms" / "phantom0001", patient = dir / "phantoms" / "phantom0002";
  const std::vector<std::string> frames{"2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"};
  std::vector<std::string> base{"fewshot", (dir / "model").string(), "--config", (demo / "inference.yaml").string(),
                                "--threads", "2"};
  for (const auto& f : frames) base.insert(base.end(), {"--query", (patient / ("phantom0002_" + f + ".npy")).string()});
  const std::vector<std::string> one{"--support", (example / "phantom0001_4CH_ED.npy").string(), "--support-mask",
                                     (example / "phantom0001_4CH_ED_gt.npy").string()};
  std::vector<std::string> all{"--strategy", "ensemble"};
  for (const auto& f : frames)
    all.insert(all.end(), {"--support", (example / ("phantom0001_" + f + ".npy")).string(), "--support-mask",
                           (example / ("phantom0001_" + f + "_gt.npy")).string()});
  std::vector<std::string> tune = one;
  tune.insert(tune.end(), {"--strategy", "tune", "--tune-steps", "20"});
  const std::map<std::string, std::vector<std::string>> strategies{
      {"one-shot", one}, {"ensemble", all}, {"memory", {"--strategy", "memory"}}, {"tune", tune}};
  for (const auto& [name, extra] : strategies) {
    auto args = base;
    args.insert(args.end(), {"-o", (dir / name).string()});
    args.insert(args.end(), extra.begin(), extra.end());
    r = run_medport(args);
    ASSERT_EQ(r.exit_code, 0) << name << r.err;
    fs::create_directories(dir / (name + "_seg"));
    for (const auto& f : frames)
      fs::copy_file(dir / name / ("phantom0002_" + f + "_labels.png"), dir / (name + "_seg") / ("phantom0002_" + f + "_seg.png"));
    r = run_medport({"evaluate", (dir / (name + "_seg")).string(), patient.string(), "-o", (dir / (name + "_eval")).string()});
    ASSERT_EQ(r.exit_code, 0) << name << r.err;
    const auto summary = read_json(dir / (name + "_eval") / "metrics.json")["summary"];
    for (int k = 1; k <= 3; ++k) {
      const double dice = summary[std::to_string(k)]["dice"]["mean"];
      EXPECT_GE(dice, kMinDice.at(name)[static_cast<std::size_t>(k - 1)]) << name << " class " << k;
    }
    EXPECT_TRUE(fs::exists(dir / name / "phantom0002_4CH_ED_montage.png"));
  }
}

}  // namespace
