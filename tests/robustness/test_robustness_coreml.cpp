// The robustness suite, Core ML readers: hostile ML Program packages and NeuralNetwork .mlmodel
// files (damaged protobuf and weight.bin, blob records pointing outside the file, shapes that
// overflow, ops with missing or extra inputs and outputs, undefined references, bad manifests,
// zero strides ...), made by tests/robustness/coreml_hostile.py from models medport wrote, given
// to `medport inspect` and `medport run`. Each must end with exit 3 naming the file and the
// fault, within seconds and a bounded amount of memory, writing nothing. docs/ROBUSTNESS.md
// ("Core ML files") lists what is refused.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "medport/checkpoint/npy.hpp"
#include "robustness_checks.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
using namespace medport::testing;

struct HostileModel {
  std::string name;    // file name below the cases folder
  std::string reason;  // a word the error must contain
  std::string mode;    // "both", "run" or "inspect": the commands that must refuse it
};

std::vector<HostileModel> read_cases(const fs::path& list) {
  std::vector<HostileModel> cases;
  std::ifstream in(list);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    HostileModel c;
    std::getline(fields, c.name, '\t');
    std::getline(fields, c.reason, '\t');
    std::getline(fields, c.mode, '\t');
    if (!c.name.empty()) cases.push_back(c);
  }
  return cases;
}

// The reason must be in the message apart from the file's name (names such as "nn_step_zero"
// would otherwise match their own reason).
std::string without(std::string text, const std::string& part) {
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part)) text.erase(at, part.size());
  return text;
}

class RobustnessCoreML : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(MEDPORT_CLI)) GTEST_SKIP() << "medport binary not built";
    const std::string model = (source_dir() / "models" / "phantom2d").string();
    for (const auto& out : {good_package_, good_nn_}) {
      const auto r = run_medport({"convert", model, "--format", "coreml", "-o", out.string()});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
    fs::create_directories(cases_);
    const std::string script = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')";
    MEDPORT_RUN_PYTHON_OR_SKIP(made, script, (source_dir() / "tests" / "robustness" / "coreml_hostile.py").string(),
                               good_package_.string(), good_nn_.string(), cases_.string());
    medport::ckpt::write_npz(inputs_, {{"input", medport::Tensor::zeros(medport::DType::F32, {1, 1, 192, 256})}});
  }

  // `medport inspect` or `medport run` on the case's file.
  GuardedResult run(const std::string& command, const fs::path& file, const fs::path& out) const {
    if (command == "inspect") return run_medport_guarded({"inspect", file.string()}, robustness_limits());
    return run_medport_guarded({"run", file.string(), "--inputs", inputs_.string(), "-o", out.string()},
                               robustness_limits());
  }

  TempDir dir_;
  fs::path good_package_ = dir_ / "good.mlpackage", good_nn_ = dir_ / "good.mlmodel";
  fs::path cases_ = dir_ / "cases", inputs_ = dir_ / "in.npz";
};

TEST_F(RobustnessCoreML, IntactModelsRun) {
  for (const auto& model : {good_package_, good_nn_}) {
    const fs::path out = dir_ / ("out_" + model.filename().string() + ".npz");
    expect_outcome(run("run", model, out), {0, "", ""}, "run " + model.filename().string());
    EXPECT_TRUE(fs::exists(out));
    expect_outcome(run("inspect", model, {}), {0, "", ""}, "inspect " + model.filename().string());
  }
}

TEST_F(RobustnessCoreML, InspectAndRunRefuseEveryHostileModel) {
  const auto cases = read_cases(cases_ / "cases.txt");
  ASSERT_GE(cases.size(), 60u) << "coreml_hostile.py made too few cases";
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path file = cases_ / c.name;
    for (const std::string command : {"inspect", "run"}) {
      const fs::path out = dir_ / "out" / (command + "_" + c.name + ".npz");
      fs::create_directories(out.parent_path());
      const auto r = run(command, file, out);
      const std::string what = command + " " + c.name;
      if (c.mode == "both" || c.mode == command) {
        expect_outcome(r, {3, c.name, ""}, what);
        EXPECT_NE(without(r.err, c.name).find(c.reason), std::string::npos) << what << ": no '" << c.reason << "' in " << r.err;
      } else {
        // Not this command's concern (inspect does not build the network): never a crash either.
        EXPECT_FALSE(r.timed_out) << what;
        EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 3) << what << ": exit " << r.exit_code << " " << r.err;
        EXPECT_EQ(r.err.find("internal error"), std::string::npos) << what << ": " << r.err;
      }
      if (r.exit_code != 0) {
        EXPECT_FALSE(fs::exists(out)) << what << " left " << out;
      }
    }
  }
  EXPECT_TRUE(temporaries_below(dir_.path()).empty());
}

}  // namespace
