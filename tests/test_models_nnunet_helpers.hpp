#pragma once
// Shared by the nnU-Net tests: the PyTorch reference tool, and output comparisons.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "medport/tensor.hpp"
#include "test_support.hpp"

namespace medport::testing::nnunet {

inline bool torch_available() {
  static const bool ok = run_program({MEDPORT_PYTHON, "-c", "import torch, numpy"}).exit_code == 0;
  return ok;
}

inline fs::path reference_tool() { return source_dir() / "tools" / "nnunet_reference.py"; }

// Runs tools/nnunet_reference.py with the arguments; the test fails on a non-zero exit.
inline CommandResult run_reference(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MEDPORT_PYTHON, reference_tool().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_program(argv);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r;
}

// Generates one of the reference tool's unseen configurations under `dir`; returns the model
// folder (forward.npz is written to dir/forward.npz).
inline fs::path make_case(const std::string& name, const fs::path& dir) {
  const auto r = run_reference({"make-case", name, dir.string()});
  std::string folder = r.out;
  while (!folder.empty() && (folder.back() == '\n' || folder.back() == '\r')) folder.pop_back();
  return folder;
}

#define MEDPORT_REQUIRE_TORCH()                                                                    \
  if (!::medport::testing::nnunet::torch_available())                                             \
  GTEST_SKIP() << MEDPORT_PYTHON << " cannot import torch: generated nnU-Net cases are skipped"

struct Comparison {
  double max_abs_diff = 0;
  double max_abs_ref = 0;
  double argmax_agreement = 1.0;  // over channel axis 1
  double relative() const { return max_abs_diff / std::max(max_abs_ref, 1e-30); }
};

// `got` and `ref` are (N, C, *spatial) float tensors of the same shape.
inline Comparison compare(const Tensor& got, const Tensor& ref) {
  Comparison c;
  EXPECT_EQ(got.shape(), ref.shape());
  if (got.shape() != ref.shape()) {
    c.max_abs_diff = INFINITY;
    return c;
  }
  const auto a = got.to_f32(), b = ref.to_f32();
  for (std::size_t i = 0; i < a.size(); ++i) {
    c.max_abs_diff = std::max(c.max_abs_diff, static_cast<double>(std::abs(a[i] - b[i])));
    c.max_abs_ref = std::max(c.max_abs_ref, static_cast<double>(std::abs(b[i])));
  }
  const auto n = ref.shape()[0], ch = ref.shape()[1];
  const std::int64_t inner = ref.numel() / std::max<std::int64_t>(1, n * ch);
  std::int64_t agree = 0;
  for (std::int64_t b0 = 0; b0 < n; ++b0)
    for (std::int64_t p = 0; p < inner; ++p) {
      std::int64_t ia = 0, ib = 0;
      for (std::int64_t k = 1; k < ch; ++k) {
        const auto off = [&](std::int64_t kk) { return static_cast<std::size_t>((b0 * ch + kk) * inner + p); };
        if (a[off(k)] > a[off(ia)]) ia = k;
        if (b[off(k)] > b[off(ib)]) ib = k;
      }
      agree += ia == ib;
    }
  c.argmax_agreement = static_cast<double>(agree) / static_cast<double>(std::max<std::int64_t>(1, n * inner));
  return c;
}

// fp32 parity: every element within 1e-4 * max(1, max|ref|).
inline void expect_fp32_parity(const Tensor& got, const Tensor& ref, const std::string& what) {
  const Comparison c = compare(got, ref);
  EXPECT_LE(c.max_abs_diff, 1e-4 * std::max(1.0, c.max_abs_ref)) << what << ": max |diff| " << c.max_abs_diff
                                                                    << ", max |ref| " << c.max_abs_ref;
}

// fp16 parity: argmax agreement >= 99.5% and max|diff| / max|ref| <= 2e-2.
inline void expect_fp16_parity(const Tensor& got, const Tensor& ref, const std::string& what) {
  const Comparison c = compare(got, ref);
  EXPECT_GE(c.argmax_agreement, 0.995) << what;
  EXPECT_LE(c.relative(), 2e-2) << what << ": max |diff| " << c.max_abs_diff << ", max |ref| " << c.max_abs_ref;
}

}  // namespace medport::testing::nnunet
