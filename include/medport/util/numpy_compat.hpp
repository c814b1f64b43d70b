#pragma once
// Arithmetic that reproduces NumPy bit for bit where medport must match reference code exactly
// (CAMUS EF volumes, scipy's Gaussian kernel, nnU-Net's tile steps and shapes).
#include <cstddef>

namespace medport {

// np.round / Python 3 round(): halves go to the even neighbour, whatever the FP rounding mode.
double round_half_even(double x);

// np.sum of a contiguous float64 array: pairwise summation with 8-way unrolled blocks of at
// most 128 elements, so the result rounds exactly like NumPy's.
double numpy_pairwise_sum(const double* values, std::size_t count);

}  // namespace medport
