// `medport inspect`: every fixture checkpoint against its manifest; hostile and broken files
// refused with exit code 3 and no side effect.
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "test_support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using medport::testing::run_medport;
using medport::testing::TempDir;

namespace {

std::vector<fs::path> manifests() {
  std::vector<fs::path> out;
  const auto root = medport::testing::fixtures_dir();
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().filename().string().ends_with(".manifest.json")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CliInspect, EveryFixtureCheckpointMatchesItsManifest) {
  const auto all = manifests();
  if (all.empty()) GTEST_SKIP() << "no *.manifest.json under " << medport::testing::fixtures_dir();
  for (const auto& manifest_path : all) {
    SCOPED_TRACE(manifest_path.string());
    const json manifest = medport::testing::read_json(manifest_path);
    const fs::path checkpoint = manifest_path.parent_path() / manifest["file"].get<std::string>();
    const auto r = run_medport({"inspect", "--json", checkpoint.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json report = json::parse(r.out);
    EXPECT_EQ(report["schema"], "medport.inspect/1");
    EXPECT_EQ(report["tensor_count"], manifest["tensor_count"]);
    EXPECT_EQ(report["storage_count"], manifest["storage_count"]);
    EXPECT_EQ(report["total_elements_all_tensors"], manifest["total_elements_all_tensors"]);
    EXPECT_EQ(report["top_level"], manifest["top_level"]);
    // Same paths, in the same order, with the same dtype, shape and contiguity.
    std::vector<std::string> want_paths, got_paths;
    for (const auto& [path, _] : manifest["tensors"].items()) want_paths.push_back(path);
    for (const auto& [path, _] : report["tensors"].items()) got_paths.push_back(path);
    EXPECT_EQ(std::set<std::string>(got_paths.begin(), got_paths.end()),
              std::set<std::string>(want_paths.begin(), want_paths.end()));
    for (const auto& [path, want] : manifest["tensors"].items()) {
      ASSERT_TRUE(report["tensors"].contains(path)) << path;
      const json& got = report["tensors"][path];
      EXPECT_EQ(got["dtype"], want["dtype"]) << path;
      EXPECT_EQ(got["shape"], want["shape"]) << path;
      EXPECT_EQ(got["contiguous"], want["contiguous"]) << path;
    }
  }
}

TEST(CliInspect, DetectsFamiliesOfTheFixtures) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {"nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d/fold_0/checkpoint_final.pth", "nnunet", "PlainConvUNet"},
      {"nnunet/resenc3d_small/nnUNetTrainer__nnUNetPlans__3d_fullres/fold_0/checkpoint_final.pth", "nnunet",
       "ResidualEncoderUNet"},
      {"diffusion/gd_echogains_small/model.pt", "guided_diffusion", "UNetModel"},
      {"iris/iris_base8/final_model.pt", "iris", "IrisModel"},
      {"iris/iris_base8/checkpoint_iter_000500.pt", "iris", "IrisModel"},
      {"iris/iris_base8/iris_iter_000100.pt", "iris", "IrisModel"},
      {"checkpoints/edge/edge_zip.pt", "unknown", ""},
  };
  for (const auto& [rel, family, variant] : cases) {
    const auto path = medport::testing::fixture(rel);
    if (path.empty()) GTEST_SKIP() << "fixture " << rel << " missing";
    const auto r = run_medport({"inspect", "--json", path.string()});
    ASSERT_EQ(r.exit_code, 0) << rel << ": " << r.err;
    const json report = json::parse(r.out);
    EXPECT_EQ(report["family"]["id"], family) << rel;
    EXPECT_EQ(report["family"]["variant"], variant) << rel;
    EXPECT_FALSE(report["family"]["evidence"].empty()) << rel;
  }
}

TEST(CliInspect, NnunetFactsAliasesAndParameterTotals) {
  MEDPORT_FIXTURE_OR_SKIP(ckpt, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d/fold_0/checkpoint_final.pth");
  const auto r = run_medport({"inspect", "--json", ckpt.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json report = json::parse(r.out);
  EXPECT_EQ(report["format"], "torch-zip");
  EXPECT_EQ(report["archive_prefix"], "checkpoint_final");
  const json& n = report["nnunet"];
  EXPECT_EQ(n["trainer"], "nnUNetTrainer");
  EXPECT_EQ(n["configuration"], "2d");
  EXPECT_EQ(n["labels"]["LV"], 1);
  EXPECT_EQ(n["plans"]["n_stages"], 7);
  EXPECT_EQ(n["mirroring_axes"], json::array({0, 1}));
  // Each conv weight is stored once but named four times (conv/all_modules x encoder/decoder.encoder).
  bool found = false;
  for (const auto& alias : report["aliases"]) {
    std::set<std::string> paths(alias["paths"].begin(), alias["paths"].end());
    if (paths.count("network_weights.encoder.stages.0.0.convs.0.conv.weight")) {
      found = true;
      EXPECT_EQ(paths, (std::set<std::string>{"network_weights.encoder.stages.0.0.convs.0.conv.weight",
                                              "network_weights.encoder.stages.0.0.convs.0.all_modules.0.weight",
                                              "network_weights.decoder.encoder.stages.0.0.convs.0.conv.weight",
                                              "network_weights.decoder.encoder.stages.0.0.convs.0.all_modules.0.weight"}));
    }
  }
  EXPECT_TRUE(found);
  // Parameters: every network storage once. Recount from the tensor table independently.
  std::set<std::string> storages;
  std::int64_t params = 0;
  for (const auto& [path, t] : report["tensors"].items()) {
    if (path.rfind("network_weights.", 0) != 0 || !storages.insert(t["storage"].get<std::string>()).second) continue;
    std::int64_t n_el = 1;
    for (const auto& d : t["shape"]) n_el *= d.get<std::int64_t>();
    params += n_el;
  }
  EXPECT_EQ(report["parameter_count"], params);
  EXPECT_LT(params, report["total_elements_all_tensors"].get<std::int64_t>());
}

TEST(CliInspect, HumanOutputFitsATerminal) {
  MEDPORT_FIXTURE_OR_SKIP(ckpt, "nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d/fold_0/checkpoint_final.pth");
  const auto r = run_medport({"inspect", ckpt.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("nnU-Net v2 PlainConvUNet"), std::string::npos);
  EXPECT_NE(r.out.find("(+3 aliases)"), std::string::npos);
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 120u) << line;
}

void remove_pwned_markers() {
  for (const auto& e : fs::directory_iterator("/tmp"))
    if (e.path().filename().string().rfind("medport_pwned_", 0) == 0) fs::remove_all(e.path());
}

bool pwned_marker_exists() {
  for (const auto& e : fs::directory_iterator("/tmp"))
    if (e.path().filename().string().rfind("medport_pwned_", 0) == 0) return true;
  return false;
}

TEST(CliInspect, HostileFilesAreRefusedWithoutSideEffects) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "checkpoints/hostile");
  remove_pwned_markers();
  std::size_t count = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    SCOPED_TRACE(e.path().string());
    for (bool as_json : {false, true}) {
      std::vector<std::string> args{"inspect", e.path().string()};
      if (as_json) args.push_back("--json");
      const auto r = run_medport(args);
      EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
      EXPECT_NE(r.err.find(e.path().string()), std::string::npos) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one-line error expected: " << r.err;
      EXPECT_TRUE(r.out.empty()) << r.out;
    }
    ++count;
  }
  EXPECT_GE(count, 8u);
  EXPECT_FALSE(pwned_marker_exists()) << "a hostile payload ran";
}

TEST(CliInspect, NamedGlobalsInRefusals) {
  MEDPORT_FIXTURE_OR_SKIP(dir, "checkpoints/hostile");
  const std::vector<std::pair<std::string, std::string>> cases{
      {"os_system.pt", "os.system"}, {"eval_in_dict.pt", "builtins.eval"}, {"subprocess_plain.pkl", "commands.call"}};
  for (const auto& [file, global] : cases) {
    const auto r = run_medport({"inspect", (dir / file).string()});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find(global), std::string::npos) << r.err;
  }
}

TEST(CliInspect, BrokenInputsAndUsage) {
  TempDir tmp;
  auto r = run_medport({"inspect", (tmp / "missing.pth").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("missing.pth: no such file"), std::string::npos) << r.err;

  r = run_medport({"inspect", tmp.path().string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;

  std::ofstream(tmp / "empty.pth").close();
  r = run_medport({"inspect", (tmp / "empty.pth").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;

  std::ofstream(tmp / "image.pth", std::ios::binary) << "\x89PNG\r\n\x1a\n not a checkpoint at all";
  r = run_medport({"inspect", (tmp / "image.pth").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("image.pth"), std::string::npos) << r.err;

  std::ofstream(tmp / "bad.zip", std::ios::binary) << "PK\x03\x04 truncated zip";
  r = run_medport({"inspect", (tmp / "bad.zip").string()});
  EXPECT_EQ(r.exit_code, 3);

  r = run_medport({"inspect"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_medport({"inspect", "--bogus-flag", "x"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(CliInspect, ContentNotExtensionDecidesTheFormat) {
  MEDPORT_FIXTURE_OR_SKIP(ckpt, "checkpoints/edge/edge_legacy.pt");
  MEDPORT_FIXTURE_OR_SKIP(npz, "checkpoints/edge/numpy_npz.npz");
  TempDir tmp;
  fs::copy_file(ckpt, tmp / "weights.txt");
  auto r = run_medport({"inspect", "--json", (tmp / "weights.txt").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["format"], "torch-legacy");
  r = run_medport({"inspect", "--json", npz.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["format"], "npz");
}

}  // namespace
