// The few-shot pipeline as a library (pipelines/fewshot/pipeline.hpp): a request computed into
// results without writing a file, written by write_case into the same files `medport fewshot`
// writes - the CLI is flag parsing over this very path.
#include <gtest/gtest.h>

#include <algorithm>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/case_writer.hpp"
#include "medport/pipelines/fewshot/pipeline.hpp"
#include "medport/util/file_io.hpp"
#include "iris_cli_test.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace fsl = medport::pipelines::fewshot;
using medport::testing::run_medport;
using medport::testing::TempDir;

class IrisPipeline : public medport::testing::IrisCliTest {
 protected:
  static void SetUpTestSuite() { convert_fixture_and_write_inputs(); }
  static void TearDownTestSuite() { release_fixture(); }

  static fsl::FewshotRequest request() {
    fsl::FewshotRequest r;
    r.model_dir = model();
    r.settings.supports = {{data() / "support.npy", data() / "support_mask.npy"}};
    r.settings.preprocessing.normalize = "none";
    r.settings.output.format = "npy";
    r.settings.output.montage = true;
    r.settings.output.save_confidence = true;
    return r;
  }
};

// Every file below `dir` with its size, to see that nothing was written.
std::vector<std::pair<std::string, std::uintmax_t>> tree(const fs::path& dir) {
  std::vector<std::pair<std::string, std::uintmax_t>> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.emplace_back(e.path().string(), e.is_regular_file() ? e.file_size() : 0);
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json without_timings(nlohmann::json j) {
  j.erase("timings");
  return j;
}

TEST_F(IrisPipeline, ResultsAreComputedWithoutFilesThenWrittenAsTheCliWritesThem) {
  const auto before = tree(tmp_->path());
  const fsl::FewshotPipeline pipeline(request());
  const fsl::FewshotResult r = pipeline.run({"query", data() / "query.npy", std::nullopt});
  EXPECT_EQ(tree(tmp_->path()), before);  // nothing written anywhere

  ASSERT_EQ(r.classes, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(r.logits.shape(), (medport::Shape{1, 2, 16, 64, 64}));
  EXPECT_EQ(r.labels.shape, (std::vector<std::int64_t>{16, 64, 64}));
  EXPECT_EQ(r.probabilities.size(), 2u * 16 * 64 * 64);
  EXPECT_FALSE(r.report.contains("outputs"));
  // The label map is the merged masks: class k + 1 only where its mask is set.
  const std::size_t per = r.grid.voxels();
  for (std::size_t i = 0; i < per; ++i) {
    if (r.labels.labels[i] == 0) continue;
    ASSERT_EQ(r.masks[(r.labels.labels[i] - 1) * per + i], 1) << i;
  }

  TempDir lib, cli;
  const auto written = fsl::write_case(r, lib.path(), pipeline.settings().output);
  ASSERT_EQ(written.back(), lib / "query.json");
  const auto c = run_medport({"fewshot", model().string(), "--support", (data() / "support.npy").string(), "--support-mask",
                              (data() / "support_mask.npy").string(), "--query", (data() / "query.npy").string(), "-o",
                              cli.path().string(), "--normalize", "none", "--format", "npy", "--montage", "--save-confidence"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  for (const char* f : {"query_labels.npy", "query_montage.png", "query_confidence.npy"})
    EXPECT_EQ(medport::read_file(lib / f), medport::read_file(cli / f)) << f;
  EXPECT_EQ(without_timings(medport::testing::read_json(lib / "query.json")),
            without_timings(medport::testing::read_json(cli / "query.json")));
}

TEST_F(IrisPipeline, BadRequestsAndQueriesAreInputErrorsNamingTheFile) {
  auto bad = request();
  bad.settings.supports[0].mask = data() / "missing_mask.npy";
  try {
    fsl::FewshotPipeline p(bad);
    ADD_FAILURE() << "no error";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing_mask.npy"), std::string::npos) << e.what();
  }
  bad = request();
  bad.settings.strategy = "sideways";
  EXPECT_THROW(fsl::FewshotPipeline{bad}, medport::UsageError);

  const fsl::FewshotPipeline pipeline(request());
  TempDir dir;
  medport::write_file_atomic(dir / "broken.npy", std::string_view("\x93NUMPY broken"));
  try {
    pipeline.run({"broken", dir / "broken.npy", std::nullopt});
    ADD_FAILURE() << "no error";
  } catch (const medport::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.npy"), std::string::npos) << e.what();
  }
}

}  // namespace
