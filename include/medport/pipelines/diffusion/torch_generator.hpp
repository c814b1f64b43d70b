#pragma once
// Bit-exact replica of PyTorch's (1.13) CPU generator: mt19937 seeded with the seed, uniform
// floats from 24 random bits, and torch.randn's float32 paths - the vectorised Box-Muller over
// groups of 16 (as the AVX2 kernel computes it) when numel >= 16, the cached-double scalar
// Box-Muller otherwise. `manual_seed(S); randn(n)` gives the values of
// `torch.manual_seed(S); torch.randn(shape)` for any shape with n elements.
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace medport::diffusion {

class TorchCpuGenerator {
 public:
  static constexpr std::uint64_t kDefaultSeed = 67280421310721ULL;  // torch's default_rng_seed_val

  explicit TorchCpuGenerator(std::uint64_t seed = kDefaultSeed) { manual_seed(seed); }

  // Resets the engine and forgets the cached normal sample, like torch.manual_seed.
  void manual_seed(std::uint64_t seed);

  std::uint32_t random() { return static_cast<std::uint32_t>(engine_()); }
  std::uint64_t random64();            // two draws, the first in the high word
  float uniform_float();               // [0, 1), 24 bits
  double uniform_double();             // [0, 1), 53 bits
  double normal_double();              // scalar Box-Muller with the generator's cached sample

  // torch.randn for a contiguous float32 tensor of out.size() elements.
  void randn(std::span<float> out);
  std::vector<float> randn(std::int64_t numel);

 private:
  std::mt19937 engine_;
  std::optional<double> next_double_normal_;
};

}  // namespace medport::diffusion
