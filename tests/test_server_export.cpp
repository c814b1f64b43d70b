// `medport export --format triton`: converted models into a Triton model repository whose
// config.pbtxt parses against Triton's own ModelConfig schema (tools/deploy/check_triton_config.py,
// the schema from the official tritonclient package), with the dims, batching and files the
// sidecar implies; IRIS folders as one model per graph; clear refusals.
#include "medport/models/sidecar.hpp"
#include "medport/triton/export.hpp"
#include "medport/triton/repository.hpp"
#include "server_test.hpp"

namespace {

namespace fs = std::filesystem;
using medport::testing::PhantomRepository;
using medport::testing::run_medport;
using medport::testing::TempDir;

medport::testing::CommandResult check_configs(const fs::path& repo) {
  return medport::testing::run_program(
      {MEDPORT_PYTHON, (medport::testing::source_dir() / "tools/deploy/check_triton_config.py").string(), repo.string()});
}

TEST(ServerExport, PhantomRepositoryIsTritonValid) {
  const auto& repo = PhantomRepository::get().repository;
  const std::string config = medport::testing::read_text(repo / "phantom2d/config.pbtxt");
  EXPECT_NE(config.find("platform: \"onnxruntime_onnx\""), std::string::npos);
  EXPECT_NE(config.find("max_batch_size: 8"), std::string::npos);
  EXPECT_NE(config.find("dims: [ 1, -1, -1 ]"), std::string::npos);  // batch axis taken out
  EXPECT_NE(config.find("dims: [ 4, -1, -1 ]"), std::string::npos);
  EXPECT_NE(config.find("dynamic_batching"), std::string::npos);
  EXPECT_NE(config.find("kind: KIND_CPU"), std::string::npos);
  // The model and its sidecar, whose graph now names model.onnx.
  const auto sidecar = medport::models::read_sidecar(repo / "phantom2d/1/model.onnx");
  EXPECT_EQ(sidecar.graphs.at(0).file, "model.onnx");
  EXPECT_EQ(sidecar.family, "nnunet");
  const auto r = check_configs(repo);
  if (r.exit_code == 3) GTEST_SKIP() << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok phantom2d: platform onnxruntime_onnx, max_batch_size 8"), std::string::npos) << r.out;
}

TEST(ServerExport, CheckerRefusesWhatTritonRefuses) {
  TempDir tmp;
  fs::copy(PhantomRepository::get().repository, tmp / "repo", fs::copy_options::recursive);
  const fs::path config = tmp / "repo/phantom2d/config.pbtxt";
  const std::string good = medport::testing::read_text(config);
  const std::vector<std::pair<std::string, std::string>> breakages = {
      {"TYPE_FP32", "TYPE_FLOAT"},                        // no such enum value
      {"max_batch_size: 8", "max_batch_size: 8\nmax_batch: 2"},  // no such field
      {"max_batch_size: 8", "max_batch_size: 0"},         // dynamic batching without batching
  };
  for (const auto& [from, to] : breakages) {
    std::string bad = good;
    bad.replace(bad.find(from), from.size(), to);
    std::ofstream(config) << bad;
    const auto r = check_configs(tmp / "repo");
    if (r.exit_code == 3) GTEST_SKIP() << r.out;
    EXPECT_EQ(r.exit_code, 1) << "accepted: " << to << "\n" << r.out;
  }
}

TEST(ServerExport, CliOptionsAndRefusals) {
  TempDir tmp;
  const auto onnx = PhantomRepository::get().onnx.string();
  auto r = run_medport({"export", onnx, "-o", (tmp / "repo").string(), "--name", "echo_seg", "--version", "3",
                        "--max-batch-size", "4", "--preferred-batch-size", "2", "--preferred-batch-size", "4",
                        "--instance-kind", "gpu", "--gpus", "0", "--instances", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string config = medport::testing::read_text(tmp / "repo/echo_seg/config.pbtxt");
  EXPECT_NE(config.find("preferred_batch_size: [ 2, 4 ]"), std::string::npos) << config;
  EXPECT_NE(config.find("kind: KIND_GPU"), std::string::npos);
  EXPECT_NE(config.find("count: 2"), std::string::npos);
  EXPECT_TRUE(fs::exists(tmp / "repo/echo_seg/3/model.onnx"));
  const auto c = check_configs(tmp / "repo");
  if (c.exit_code != 3) {
    EXPECT_EQ(c.exit_code, 0) << c.out;
  }
  // The same name again: refused unless --overwrite, and nothing half-written is left behind.
  r = run_medport({"export", onnx, "-o", (tmp / "repo").string(), "--name", "echo_seg"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos);
  for (const auto& item : fs::directory_iterator(tmp / "repo")) EXPECT_NE(item.path().filename().string().front(), '.');
  EXPECT_EQ(run_medport({"export", onnx, "-o", (tmp / "repo").string(), "--name", "echo_seg", "--overwrite"}).exit_code, 0);
  // Invalid names and sources.
  EXPECT_EQ(run_medport({"export", onnx, "-o", (tmp / "repo").string(), "--name", "../escape"}).exit_code, 3);
  EXPECT_EQ(run_medport({"export", (tmp / "missing.onnx").string(), "-o", (tmp / "repo").string()}).exit_code, 3);
  EXPECT_FALSE(fs::exists(tmp / "escape"));
}

TEST(ServerExport, IrisFolderBecomesOneModelPerGraph) {
  const auto fixture = medport::testing::fixture("iris/iris_base8");
  if (fixture.empty()) GTEST_SKIP() << "fixture iris/iris_base8 not found";
  TempDir tmp;
  ASSERT_EQ(run_medport({"convert", (fixture / "final_model.pt").string(), "--config", (fixture / "config.json").string(), "-o",
                         (tmp / "iris").string()})
                .exit_code,
            0);
  const auto r = run_medport({"export", (tmp / "iris").string(), "-o", (tmp / "repo").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The whole folder as version 1, Triton serving the forward graph ...
  EXPECT_TRUE(fs::exists(tmp / "repo/iris/1/medport.json"));
  EXPECT_TRUE(fs::exists(tmp / "repo/iris/1/encode_support.onnx"));
  EXPECT_NE(medport::testing::read_text(tmp / "repo/iris/config.pbtxt").find("default_model_filename: \"forward.onnx\""),
            std::string::npos);
  EXPECT_EQ(medport::triton::model_in_version(tmp / "repo/iris/1"), tmp / "repo/iris/1");
  // ... and each further graph as its own model.
  EXPECT_TRUE(fs::exists(tmp / "repo/iris__encode_support/1/model.onnx"));
  EXPECT_EQ(medport::models::read_sidecar(tmp / "repo/iris__encode_support/1/model.onnx").graphs.size(), 1u);
  const auto c = check_configs(tmp / "repo");
  if (c.exit_code == 3) GTEST_SKIP() << c.out;
  EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
}

TEST(ServerExport, ModelNames) {
  using medport::triton::is_valid_model_name;
  EXPECT_TRUE(is_valid_model_name("phantom2d"));
  EXPECT_TRUE(is_valid_model_name("a.b-c_d"));
  for (const char* bad : {"", ".", "..", "../x", "a/b", ".hidden", "-x", "a b", "a\\b"}) EXPECT_FALSE(is_valid_model_name(bad)) << bad;
  EXPECT_FALSE(is_valid_model_name(std::string(129, 'a')));
  EXPECT_EQ(medport::triton::model_name_from("/x/Phantom 2D.v1.onnx"), "Phantom_2D.v1");
  EXPECT_EQ(medport::triton::model_name_from("/x/__x/"), "x");
}

}  // namespace
