#pragma once
// Shared set-up of the `medport segment` CLI tests: the camus2d_small fixture model folder
// converted into a fresh temporary folder for each test, with its sliding-window reference npz.
// Tests skip when the fixtures are absent.
#include <filesystem>

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace medport::testing {

class ConvertedCamusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fixture("nnunet/camus2d_small/nnUNetTrainer__nnUNetPlans__2d");
    npz_ = fixture("nnunet/camus2d_small/sliding_window.npz");
    if (folder_.empty() || npz_.empty()) GTEST_SKIP() << "camus2d_small fixtures not found";
    onnx_ = dir_ / "camus.onnx";
    const auto r = run_medport({"convert", folder_.string(), "-o", onnx_.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  TempDir dir_;
  std::filesystem::path folder_, npz_, onnx_;
};

}  // namespace medport::testing
