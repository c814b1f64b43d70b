#pragma once
// Shared by the Core ML tests: Apple's own tooling as a checker (tools/coreml_check.py through the
// test venv's coremltools) and the source weights a package must hold.
#include <string>

#include "medport/checkpoint/npy.hpp"
#include "medport/export/coreml.hpp"
#include "medport/graph/ir.hpp"
#include "test_support.hpp"

namespace medport::testing::coreml {

inline bool coremltools_available() {
  static const bool ok =
      run_program({MEDPORT_PYTHON, "-c", "import coremltools, numpy; "
                                         "from coremltools.libmilstoragepython import _BlobStorageReader"})
          .exit_code == 0;
  return ok;
}

#define MEDPORT_REQUIRE_COREMLTOOLS()                                                    \
  if (!::medport::testing::coreml::coremltools_available())                              \
  GTEST_SKIP() << MEDPORT_PYTHON << " cannot import coremltools (./setup.sh test installs it)"

// The graph's float initializers by MIL const name, for the blob comparison.
inline fs::path write_source_weights(const graph::Graph& g, const fs::path& npz) {
  ckpt::NamedTensors tensors;
  for (const auto& init : g.initializers) {
    if (!dtype_is_floating(init.tensor.dtype()) || init.tensor.numel() < 10) continue;
    std::string name;
    for (char c : init.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) name = "v_" + name;
    tensors.emplace_back(name, init.tensor.to(DType::F32));
  }
  ckpt::write_npz(npz, tensors);
  return npz;
}

// Runs tools/coreml_check.py; fails the test when coremltools cannot load the file or a weight
// record differs from the source. Returns its JSON report.
inline nlohmann::json check_with_coremltools(const fs::path& model, const fs::path& weights_npz = {}) {
  std::vector<std::string> argv{MEDPORT_PYTHON, (source_dir() / "tools" / "coreml_check.py").string(), model.string()};
  if (!weights_npz.empty()) {
    argv.push_back("--weights");
    argv.push_back(weights_npz.string());
  }
  const auto r = run_program(argv);
  EXPECT_EQ(r.exit_code, 0) << "coremltools rejected " << model << ":\n" << r.err;
  if (r.exit_code != 0) return {};
  return nlohmann::json::parse(r.out);
}

inline std::string file_bytes(const fs::path& path) { return read_text(path); }

}  // namespace medport::testing::coreml
