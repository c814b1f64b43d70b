#pragma once
// Where a sampler's Gaussian draws come from: torch's CPU generator for a seed (bit-identical to
// torch.randn), or draws recorded by a reference run, replayed in order.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "medport/pipelines/diffusion/torch_generator.hpp"

namespace medport::diffusion {

class NoiseSource {
 public:
  virtual ~NoiseSource() = default;
  // One torch.randn draw of out.size() elements (a whole batch tensor at once).
  virtual void fill(std::span<float> out) = 0;
};

class TorchNoise final : public NoiseSource {
 public:
  explicit TorchNoise(std::uint64_t seed) : generator_(seed) {}
  void fill(std::span<float> out) override { generator_.randn(out); }
  TorchCpuGenerator& generator() { return generator_; }

 private:
  TorchCpuGenerator generator_;
};

// TorchNoise that generates the next draw on a worker thread while the caller (the model) works.
// The sequence is identical to TorchNoise's: a prefetched draw of the wrong size is discarded
// and the generator rewound.
class PrefetchingTorchNoise final : public NoiseSource {
 public:
  explicit PrefetchingTorchNoise(std::uint64_t seed) : generator_(seed) {}
  ~PrefetchingTorchNoise() override;
  PrefetchingTorchNoise(const PrefetchingTorchNoise&) = delete;
  PrefetchingTorchNoise& operator=(const PrefetchingTorchNoise&) = delete;
  void fill(std::span<float> out) override;

 private:
  TorchCpuGenerator generator_;
  TorchCpuGenerator before_prefetch_;
  std::vector<float> next_;
  std::future<void> pending_;
};

class RecordedNoise final : public NoiseSource {
 public:
  // `draw_sizes` (optional) is the element count of each recorded draw; fill() then checks that
  // every request matches the next recorded draw.
  RecordedNoise(std::vector<float> values, std::vector<std::int64_t> draw_sizes = {},
                std::string source = "recorded noise");
  // Reads `key` (any shape, float32/float64) from an npz, and `<key>_shapes` or
  // `noise_draw_shapes` ([draws, rank] int64) when present.
  static RecordedNoise from_npz(const std::filesystem::path& path, const std::string& key = "noise_draws");

  void fill(std::span<float> out) override;
  std::size_t draws_taken() const { return draws_taken_; }
  std::size_t remaining() const { return values_.size() - position_; }

 private:
  std::vector<float> values_;
  std::vector<std::int64_t> draw_sizes_;
  std::string source_;
  std::size_t position_ = 0;
  std::size_t draws_taken_ = 0;
};

// What the CLI's --seed / --noise-npz flags ask for: recorded draws replayed from the npz when a
// path is given, otherwise torch-compatible draws for the seed (generated ahead on a thread).
std::unique_ptr<NoiseSource> make_noise_source(std::uint64_t seed, const std::string& noise_npz);

}  // namespace medport::diffusion
