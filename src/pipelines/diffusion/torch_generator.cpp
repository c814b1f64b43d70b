#include "medport/pipelines/diffusion/torch_generator.hpp"

#include <cmath>
#include <numbers>

#include "cephes_float_math.hpp"

namespace medport::diffusion {
namespace {

// Box-Muller on 16 uniforms: u[0..8) give the radii, u[8..16) the angles. Cloned for FMA
// hardware (the results are identical; std::fma is just a call on the default clone).
__attribute__((target_clones("fma", "default"))) void box_muller_16(float* data) {
  const auto two_pi = static_cast<float>(2.0f * std::numbers::pi);
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.0f - data[j];  // (0, 1] for the log
    const float u2 = data[j + 8];
    const float radius = std::sqrt(-2.0f * detail::cephes_logf(u1));
    float sin_theta = 0.0f;
    float cos_theta = 0.0f;
    detail::cephes_sincosf(two_pi * u2, &sin_theta, &cos_theta);
    data[j] = radius * cos_theta;
    data[j + 8] = radius * sin_theta;
  }
}

}  // namespace

void TorchCpuGenerator::manual_seed(std::uint64_t seed) {
  engine_.seed(static_cast<std::uint32_t>(seed));
  next_double_normal_.reset();
}

std::uint64_t TorchCpuGenerator::random64() {
  const std::uint64_t high = random();
  const std::uint64_t low = random();
  return (high << 32) | low;
}

float TorchCpuGenerator::uniform_float() {
  return static_cast<float>(random() & ((1u << 24) - 1)) * (1.0f / static_cast<float>(1u << 24));
}

double TorchCpuGenerator::uniform_double() {
  constexpr std::uint64_t kMask = (std::uint64_t{1} << 53) - 1;
  return static_cast<double>(random64() & kMask) * (1.0 / static_cast<double>(std::uint64_t{1} << 53));
}

double TorchCpuGenerator::normal_double() {
  if (next_double_normal_) {
    const double cached = *next_double_normal_;
    next_double_normal_.reset();
    return cached;
  }
  const double u1 = uniform_double();
  const double u2 = uniform_double();
  const double radius = std::sqrt(-2.0 * std::log(1.0 - u2));
  const double theta = 2.0 * std::numbers::pi * u1;
  next_double_normal_ = radius * std::sin(theta);
  return radius * std::cos(theta);
}

void TorchCpuGenerator::randn(std::span<float> out) {
  const std::size_t size = out.size();
  if (size < 16) {
    for (float& value : out) value = static_cast<float>(normal_double());
    return;
  }
  float* data = out.data();
  for (std::size_t i = 0; i < size; ++i) data[i] = uniform_float();
  for (std::size_t i = 0; i + 16 <= size; i += 16) box_muller_16(data + i);
  if (size % 16 != 0) {
    // torch redraws the last 16 values (overwriting part of the last full group).
    float* tail = data + size - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform_float();
    box_muller_16(tail);
  }
}

std::vector<float> TorchCpuGenerator::randn(std::int64_t numel) {
  std::vector<float> values(static_cast<std::size_t>(numel < 0 ? 0 : numel));
  randn(std::span<float>(values));
  return values;
}

}  // namespace medport::diffusion
