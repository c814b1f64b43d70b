#pragma once
// Shared suite set-up of the IRIS library tests: the fixture checkpoint (iris/iris_base8)
// converted once into a temporary folder and loaded as an IrisModel with 2 intra-op threads, plus
// the fixture's reference.npz. Tests skip when the fixtures are absent.
#include <string>

#include <gtest/gtest.h>

#include "medport/checkpoint/npy.hpp"
#include "medport/pipelines/convert.hpp"
#include "medport/pipelines/fewshot/fewshot.hpp"
#include "test_support.hpp"

namespace medport::testing {

class IrisModelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto dir = fixture("iris/iris_base8");
    if (dir.empty()) return;
    tmp_ = new TempDir();
    pipelines::ConvertRequest request;
    request.source = dir / "final_model.pt";
    request.output = tmp_->path() / "model";
    request.options.config = dir / "config.json";
    pipelines::convert(request);
    runtime::SessionOptions options;
    options.intra_op_threads = 2;
    model_ = new pipelines::fewshot::IrisModel(tmp_->path() / "model", options);
    ref_ = new ckpt::NpzFile(ckpt::NpzFile::open(dir / "reference.npz"));
  }
  static void TearDownTestSuite() {
    delete ref_;
    delete model_;
    delete tmp_;
    ref_ = nullptr;
    model_ = nullptr;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (!model_) GTEST_SKIP() << "fixture iris/iris_base8 not found";
  }
  static Tensor ref(const std::string& name) { return ref_->read(name); }

  static inline TempDir* tmp_ = nullptr;
  static inline pipelines::fewshot::IrisModel* model_ = nullptr;
  static inline ckpt::NpzFile* ref_ = nullptr;
};

}  // namespace medport::testing
