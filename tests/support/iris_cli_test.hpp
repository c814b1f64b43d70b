#pragma once
// Shared suite set-up of the `medport fewshot` CLI tests: the IRIS fixture (iris/iris_base8)
// converted once into a temporary model folder, and the reference support and query written as
// .npy files: support.npy and query.npy (D,H,W), support_mask.npy one-hot (K,D,H,W), because the
// reference's two class masks overlap. Tests skip when the fixtures are absent.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "medport/checkpoint/npy.hpp"
#include "test_support.hpp"

namespace medport::testing {

class IrisCliTest : public ::testing::Test {
 protected:
  static void convert_fixture_and_write_inputs() {
    const auto dir = fixture("iris/iris_base8");
    if (dir.empty()) return;
    tmp_ = new TempDir();
    const auto r = run_medport({"convert", (dir / "final_model.pt").string(), "--config", (dir / "config.json").string(),
                                "-o", model().string()});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
    ref_ = new ckpt::NpzFile(ckpt::NpzFile::open(dir / "reference.npz"));
    ckpt::write_npy_file(data() / "support.npy", ref("support_image").reshaped({16, 64, 64}));
    ckpt::write_npy_file(data() / "support_mask.npy", ref("support_masks").reshaped({2, 16, 64, 64}));
    ckpt::write_npy_file(data() / "query.npy", ref("query_image").reshaped({16, 64, 64}));
  }
  static void release_fixture() {
    delete ref_;
    delete tmp_;
    ref_ = nullptr;
    tmp_ = nullptr;
  }
  void SetUp() override {
    if (!ref_) GTEST_SKIP() << "fixture iris/iris_base8 not found";
  }

  static std::filesystem::path model() { return tmp_->path() / "model"; }
  static std::filesystem::path data() {
    std::filesystem::create_directories(tmp_->path() / "data");
    return tmp_->path() / "data";
  }
  static Tensor ref(const std::string& name) { return ref_->read(name); }
  // Row i of the reference array `name` holding `rows` (16,64,64) volumes, e.g. one of the three
  // ensemble supports.
  static Tensor ref_row(const std::string& name, int i, int rows) {
    const auto v = ref(name).to_f32();
    const std::size_t per = v.size() / static_cast<std::size_t>(rows);
    return Tensor::from_f32({16, 64, 64}, std::span(v.data() + per * static_cast<std::size_t>(i), per));
  }

  static inline TempDir* tmp_ = nullptr;
  static inline ckpt::NpzFile* ref_ = nullptr;
};

}  // namespace medport::testing
