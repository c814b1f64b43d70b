#pragma once
// Single-precision log and sincos by the Cephes polynomials, evaluated in the exact operation
// order (fused multiply-adds included) of the AVX2 kernel PyTorch's CPU randn runs. The Box-Muller
// transform must use these, not libm, to reproduce torch's draws bit for bit. Inline so that a
// caller compiled for FMA hardware (target_clones) turns std::fma into one instruction.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace medport::diffusion::detail {


// PyTorch's kernel is compiled with contraction enabled, so each multiply whose only use is an
// add became one fused multiply-add; madd reproduces that rounding (std::fma is exact everywhere;
// callers compiled for FMA hardware get the instruction).
inline float madd(float a, float b, float c) { return std::fma(a, b, c); }

inline constexpr float kSqrtHalf = static_cast<float>(0.707106781186547524);
inline constexpr float kLogP[9] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
                            -1.2420140846E-1f, +1.4249322787E-1f, -1.6668057665E-1f,
                            +2.0000714765E-1f, -2.4999993993E-1f, +3.3333331174E-1f};
inline constexpr float kLogQ1 = -2.12194440e-4f;
inline constexpr float kLogQ2 = 0.693359375f;

inline constexpr float kFourOverPi = static_cast<float>(1.27323954473516);
inline constexpr float kMinusDp1 = -0.78515625f;
inline constexpr float kMinusDp2 = -2.4187564849853515625e-4f;
inline constexpr float kMinusDp3 = static_cast<float>(-3.77489497744594108e-8);
inline constexpr float kSinP[3] = {-1.9515295891E-4f, 8.3321608736E-3f, -1.6666654611E-1f};
inline constexpr float kCosP[3] = {static_cast<float>(2.443315711809948E-005),
                            static_cast<float>(-1.388731625493765E-003),
                            static_cast<float>(4.166664568298827E-002)};


inline float cephes_logf(float x) {
  x = std::max(x, std::bit_cast<float>(std::uint32_t{0x00800000}));
  std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
  const auto biased_exponent = static_cast<std::int32_t>(bits >> 23);
  bits = (bits & ~std::uint32_t{0x7f800000}) | std::bit_cast<std::uint32_t>(0.5f);
  float m = std::bit_cast<float>(bits);  // mantissa in [0.5, 1)
  float e = static_cast<float>(biased_exponent - 0x7f) + 1.0f;

  const bool below = m < kSqrtHalf;
  const float tmp = below ? m : 0.0f;
  m = m - 1.0f;
  e = e - (below ? 1.0f : 0.0f);
  m = m + tmp;

  const float z = m * m;
  float y = kLogP[0];
  for (int i = 1; i < 9; ++i) y = madd(y, m, kLogP[i]);
  y = y * m;
  y = madd(y, z, e * kLogQ1);
  y = madd(-z, 0.5f, y);
  m = m + y;
  return madd(e, kLogQ2, m);
}

inline void cephes_sincosf(float x, float* sin_out, float* cos_out) {
  std::uint32_t sign_sin = std::bit_cast<std::uint32_t>(x) & 0x80000000u;
  x = std::fabs(x);

  float y = x * kFourOverPi;
  auto octant = static_cast<std::int32_t>(y);  // truncation, as cvttps
  octant = (octant + 1) & ~1;
  y = static_cast<float>(octant);

  const std::uint32_t swap_sign_sin = static_cast<std::uint32_t>(octant & 4) << 29;
  const bool first_poly_is_sin = (octant & 2) == 0;

  x = madd(y, kMinusDp1, x);
  x = madd(y, kMinusDp2, x);
  x = madd(y, kMinusDp3, x);

  const std::uint32_t sign_cos = static_cast<std::uint32_t>(~(octant - 2) & 4) << 29;
  sign_sin ^= swap_sign_sin;

  const float z = x * x;
  float c = madd(kCosP[0], z, kCosP[1]);
  c = madd(c, z, kCosP[2]);
  c = c * z;
  c = madd(c, z, -(z * 0.5f));
  c = c + 1.0f;

  float s = madd(kSinP[0], z, kSinP[1]);
  s = madd(s, z, kSinP[2]);
  s = s * z;
  s = madd(s, x, x);

  // Same selection arithmetic as the vector code (a masked-out lane is +0.0).
  const float sin_from_s = first_poly_is_sin ? s : 0.0f;
  const float sin_from_c = first_poly_is_sin ? 0.0f : c;
  const float sin_value = sin_from_c + sin_from_s;
  const float cos_value = (c - sin_from_c) + (s - sin_from_s);
  *sin_out = std::bit_cast<float>(std::bit_cast<std::uint32_t>(sin_value) ^ sign_sin);
  *cos_out = std::bit_cast<float>(std::bit_cast<std::uint32_t>(cos_value) ^ sign_cos);
}

}  // namespace medport::diffusion::detail
