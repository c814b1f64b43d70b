// `medport fewshot` for scale-out: two processes adding supports to one PostgreSQL bank at once
// (--update-bank --bank postgresql://...) lose no update and give the bank a sequential run
// gives a file; a memory-strategy run reads the shared bank; three `--shard i/3` runs write the
// files of one unsharded run. Against the IRIS fixture; PostgreSQL tests skip without a server.
#include <future>
#include <map>
#include <set>

#include "iris_cli_test.hpp"
#include "medport/pipelines/fewshot/bank_backend.hpp"
#include "medport/util/file_io.hpp"
#include "postgres_server.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace fsl = medport::pipelines::fewshot;
using medport::testing::run_medport;

class CliFewshotShared : public medport::testing::IrisCliTest {
 protected:
  static void SetUpTestSuite() { convert_fixture_and_write_inputs(); }
  static void TearDownTestSuite() { release_fixture(); }

  static std::vector<std::string> add_support(const std::string& bank, const std::string& out) {
    return {"fewshot", model().string(), "--support", (data() / "support.npy").string(), "--support-mask",
            (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(), "-o",
            (tmp_->path() / out).string(), "--bank", bank, "--update-bank"};
  }
};

TEST_F(CliFewshotShared, TwoProcessesUpdatingOnePostgresBankLoseNoUpdate) {
  POSTGRES_OR_SKIP();
  const std::string url = medport::testing::postgres_server().url("cli_shared");
  auto a = std::async(std::launch::async, [&] { return run_medport(add_support(url, "pg_a")); });
  auto b = std::async(std::launch::async, [&] { return run_medport(add_support(url, "pg_b")); });
  const auto ra = a.get(), rb = b.get();
  ASSERT_EQ(ra.exit_code, 0) << ra.err;
  ASSERT_EQ(rb.exit_code, 0) << rb.err;

  // The same two updates one after the other into a file bank.
  const std::string file = (tmp_->path() / "sequential.npz").string();
  ASSERT_EQ(run_medport(add_support(file, "file_a")).exit_code, 0);
  ASSERT_EQ(run_medport(add_support(file, "file_b")).exit_code, 0);

  const auto shared = fsl::open_bank(url)->contents();
  const auto sequential = fsl::open_bank(file)->contents();
  EXPECT_EQ(shared.counts, sequential.counts);
  ASSERT_FALSE(shared.counts.empty());
  for (const auto& [id, count] : shared.counts) {
    EXPECT_GE(count, 2) << "class " << id;
    EXPECT_EQ(shared.bank.get(id).to_f32(), sequential.bank.get(id).to_f32()) << "class " << id;
  }
  EXPECT_EQ(shared.examples.size(), sequential.examples.size());

  // A memory-strategy run reads the shared bank.
  const auto r = run_medport({"fewshot", model().string(), "--strategy", "memory", "--bank", url, "--query",
                              (data() / "query.npy").string(), "-o", (tmp_->path() / "pg_memory").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto report = medport::testing::read_json(tmp_->path() / "pg_memory" / "query.json");
  EXPECT_NE(report.dump().find("cli_shared"), std::string::npos) << report.dump();
}

TEST_F(CliFewshotShared, ThreeShardsWriteTheFilesOfOneRun) {
  const fs::path queries = tmp_->path() / "queries";
  fs::create_directories(queries);
  for (const char* name : {"q_apex.npy", "q_base.npy", "q_mid.npy", "q_lateral.npy", "q_septal.npy"})
    fs::copy_file(data() / "query.npy", queries / name, fs::copy_options::overwrite_existing);
  auto run = [&](const std::string& out, const std::string& shard) {
    std::vector<std::string> args{"fewshot", model().string(), "--support", (data() / "support.npy").string(),
                                  "--support-mask", (data() / "support_mask.npy").string(), "--query-dir",
                                  queries.string(), "-o", (tmp_->path() / out).string()};
    if (!shard.empty()) args.insert(args.end(), {"--shard", shard});
    return run_medport(args);
  };
  ASSERT_EQ(run("full", "").exit_code, 0);
  for (int i = 0; i < 3; ++i) {
    const auto r = run("sharded", std::to_string(i) + "/3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::set<std::string> full, sharded;
  for (const auto& e : fs::directory_iterator(tmp_->path() / "full")) full.insert(e.path().filename().string());
  for (const auto& e : fs::directory_iterator(tmp_->path() / "sharded")) sharded.insert(e.path().filename().string());
  full.erase("batch_summary.json");  // each run summarizes its own cases
  sharded.erase("batch_summary.json");
  EXPECT_EQ(full, sharded);
  for (const auto& name : full)
    if (name.ends_with(".npy") || name.ends_with(".nii.gz")) {
      const auto a = medport::read_file(tmp_->path() / "full" / name), b = medport::read_file(tmp_->path() / "sharded" / name);
      EXPECT_TRUE(a == b) << name;
    }
}

}  // namespace
