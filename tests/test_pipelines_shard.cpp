// Sharded batches: the split by case name is a partition, stable and resumable, and three
// `segment --shard i/3` runs write exactly the files of one unsharded run.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "medport/error.hpp"
#include "medport/pipelines/batch/shard.hpp"
#include "medport/util/file_io.hpp"
#include "test_support.hpp"

namespace {

using namespace medport;
using namespace medport::testing;
namespace batch = medport::pipelines::batch;

TEST(Shard, ParsesIOverN) {
  const auto s = batch::parse_shard("2/3");
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 3u);
  for (const char* bad : {"3/3", "1", "a/3", "1/0", "-1/3", "1/3/4", "/3", "1/"})
    EXPECT_THROW(batch::parse_shard(bad), UsageError) << bad;
}

TEST(Shard, EveryNameInExactlyOneShardAndStable) {
  // FNV-1a 64 reference values ("" is the offset basis).
  EXPECT_EQ(batch::stable_name_hash(""), 14695981039346656037ULL);
  EXPECT_EQ(batch::stable_name_hash("a"), 0xaf63dc4c8601ec8cULL);
  std::vector<std::string> names;
  for (int i = 0; i < 500; ++i) names.push_back("patient" + std::to_string(i) + "_2CH_ED");
  std::map<std::string, int> owners;
  std::vector<std::size_t> sizes;
  for (std::uint64_t i = 0; i < 3; ++i) {
    const auto part = batch::select_shard(names, {i, 3}, [](const std::string& n) { return n; });
    sizes.push_back(part.size());
    for (const auto& n : part) ++owners[n];
  }
  EXPECT_EQ(owners.size(), names.size());
  for (const auto& [n, count] : owners) EXPECT_EQ(count, 1) << n;
  for (auto size : sizes) EXPECT_GT(size, 100u);  // roughly even
}

std::map<std::string, std::string> files_in(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto bytes = read_file(e.path());
    out[e.path().filename().string()] = std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  return out;
}

TEST(ShardCli, ThreeShardsWriteTheFilesOfOneRun) {
  if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
  TempDir dir;
  const auto onnx = dir / "phantom2d.onnx";
  auto r = run_medport({"convert", (source_dir() / "models" / "phantom2d").string(), "-o", onnx.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_medport({"phantom", "-o", (dir / "ph").string(), "--patients", "2", "--seed", "11"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> images;
  for (const auto& patient : fs::directory_iterator(dir / "ph"))
    for (const std::string view : {"2CH_ED", "2CH_ES", "4CH_ED", "4CH_ES"})
      images.push_back((patient.path() / (patient.path().filename().string() + "_" + view + ".png")).string());
  auto segment = [&](const fs::path& out, const std::string& shard) {
    std::vector<std::string> args{"segment", onnx.string()};
    args.insert(args.end(), images.begin(), images.end());
    args.insert(args.end(), {"-o", out.string(), "--spacing", "0.3,0.3"});
    if (!shard.empty()) args.insert(args.end(), {"--shard", shard});
    return run_medport(args);
  };
  r = segment(dir / "full", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 3; ++i) {
    r = segment(dir / "sharded", std::to_string(i) + "/3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const auto full = files_in(dir / "full"), sharded = files_in(dir / "sharded");
  std::set<std::string> full_names, sharded_names;
  for (const auto& [n, c] : full) full_names.insert(n);
  for (const auto& [n, c] : sharded) sharded_names.insert(n);
  ASSERT_EQ(full_names, sharded_names);
  EXPECT_EQ(full_names.size(), images.size() * 3);  // label map, overlay, summary per case
  for (const auto& [name, content] : full) {
    if (!name.ends_with(".png")) continue;  // summaries hold timings; label maps and overlays must match
    EXPECT_EQ(content, sharded.at(name)) << name;
  }

  // Resumable per shard: a second run of shard 1 finds its cases done.
  r = segment(dir / "sharded", "1/3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("segmented 0 case(s)"), std::string::npos) << r.err;
}

}  // namespace
