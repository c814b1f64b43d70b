#pragma once
// Comparing a Core ML export's outputs (run through medport's reader) with PyTorch references.
#include <algorithm>
#include <cmath>

#include "medport/tensor.hpp"
#include "test_support.hpp"

namespace medport::testing::coreml {

struct Diff {
  double max_abs = 0;
  double max_ref = 0;
  double agreement = 1;  // argmax over axis 1
  double relative() const { return max_abs / std::max(max_ref, 1e-30); }
};

inline Diff diff(const Tensor& got, const Tensor& ref) {
  EXPECT_EQ(got.shape(), ref.shape());
  Diff d;
  if (got.shape() != ref.shape()) {
    d.max_abs = INFINITY;
    return d;
  }
  const auto a = got.to_f32(), b = ref.to_f32();
  for (std::size_t i = 0; i < a.size(); ++i) {
    d.max_abs = std::max(d.max_abs, static_cast<double>(std::abs(a[i] - b[i])));
    d.max_ref = std::max(d.max_ref, static_cast<double>(std::abs(b[i])));
  }
  if (ref.ndim() < 2) return d;
  const std::int64_t ch = ref.shape()[1], inner = ref.numel() / ref.shape()[0] / ch;
  std::int64_t agree = 0, total = 0;
  for (std::int64_t n = 0; n < ref.shape()[0]; ++n)
    for (std::int64_t p = 0; p < inner; ++p, ++total) {
      std::int64_t ia = 0, ib = 0;
      for (std::int64_t k = 1; k < ch; ++k) {
        const auto at = [&](std::int64_t kk) { return static_cast<std::size_t>((n * ch + kk) * inner + p); };
        if (a[at(k)] > a[at(ia)]) ia = k;
        if (b[at(k)] > b[at(ib)]) ib = k;
      }
      agree += ia == ib;
    }
  d.agreement = static_cast<double>(agree) / static_cast<double>(std::max<std::int64_t>(total, 1));
  return d;
}

// Item i of the batch axis as a batch of one.
inline Tensor batch_item(const Tensor& t, std::int64_t i) {
  const Tensor c = t.contiguous();
  Shape s = c.shape();
  s[0] = 1;
  const std::size_t bytes = c.nbytes() / static_cast<std::size_t>(c.shape()[0]);
  return Tensor::from_bytes(c.dtype(), s, std::span(c.raw_data() + bytes * static_cast<std::size_t>(i), bytes));
}

}  // namespace medport::testing::coreml
