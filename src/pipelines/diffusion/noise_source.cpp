#include "medport/pipelines/diffusion/noise_source.hpp"

#include <algorithm>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"

namespace medport::diffusion {

PrefetchingTorchNoise::~PrefetchingTorchNoise() {
  if (pending_.valid()) pending_.wait();
}

void PrefetchingTorchNoise::fill(std::span<float> out) {
  bool served = false;
  if (pending_.valid()) {
    pending_.get();
    if (next_.size() == out.size()) {
      std::copy(next_.begin(), next_.end(), out.begin());
      served = true;
    } else {
      generator_ = before_prefetch_;
    }
  }
  if (!served) generator_.randn(out);
  before_prefetch_ = generator_;
  next_.resize(out.size());
  pending_ = std::async(std::launch::async, [this] { generator_.randn(std::span<float>(next_)); });
}

RecordedNoise::RecordedNoise(std::vector<float> values, std::vector<std::int64_t> draw_sizes, std::string source)
    : values_(std::move(values)), draw_sizes_(std::move(draw_sizes)), source_(std::move(source)) {
  std::int64_t total = 0;
  for (const std::int64_t size : draw_sizes_) {
    if (size < 0) throw InputError(source_, "negative noise draw size");
    total += size;
  }
  if (!draw_sizes_.empty() && total != static_cast<std::int64_t>(values_.size())) {
    throw InputError(source_, "the recorded draw shapes cover " + std::to_string(total) + " values but " +
                                  std::to_string(values_.size()) + " are stored");
  }
}

RecordedNoise RecordedNoise::from_npz(const std::filesystem::path& path, const std::string& key) {
  const ckpt::NpzFile npz = ckpt::NpzFile::open(path);
  const std::string source = path.string() + ":" + key;
  if (!npz.contains(key)) throw InputError(path.string(), "no array named '" + key + "'");
  const Tensor draws = npz.read(key);
  if (!dtype_is_floating(draws.dtype())) throw InputError(source, "noise must be floating point");
  std::vector<std::int64_t> sizes;
  for (const std::string& shapes_key : {key + "_shapes", std::string("noise_draw_shapes")}) {
    if (!npz.contains(shapes_key)) continue;
    const Tensor shapes = npz.read(shapes_key);
    if (shapes.ndim() != 2 || dtype_is_floating(shapes.dtype())) {
      throw InputError(path.string() + ":" + shapes_key, "expected an integer [draws, rank] array");
    }
    const std::vector<float> dims = shapes.to_f32();
    const auto rank = static_cast<std::size_t>(shapes.shape()[1]);
    for (std::size_t row = 0; row < static_cast<std::size_t>(shapes.shape()[0]); ++row) {
      std::int64_t numel = 1;
      for (std::size_t d = 0; d < rank; ++d) numel *= static_cast<std::int64_t>(dims[row * rank + d]);
      sizes.push_back(numel);
    }
    break;
  }
  return RecordedNoise(draws.to_f32(), std::move(sizes), source);
}

void RecordedNoise::fill(std::span<float> out) {
  if (!draw_sizes_.empty()) {
    if (draws_taken_ >= draw_sizes_.size()) {
      throw InputError(source_, "all " + std::to_string(draw_sizes_.size()) + " recorded draws are used up");
    }
    if (draw_sizes_[draws_taken_] != static_cast<std::int64_t>(out.size())) {
      throw InputError(source_, "draw " + std::to_string(draws_taken_) + " was recorded with " +
                                    std::to_string(draw_sizes_[draws_taken_]) + " values, the sampler asks for " +
                                    std::to_string(out.size()));
    }
  }
  if (out.size() > remaining()) {
    throw InputError(source_, "ran out of recorded noise at draw " + std::to_string(draws_taken_) + " (" +
                                  std::to_string(remaining()) + " values left, " + std::to_string(out.size()) +
                                  " needed)");
  }
  std::copy_n(values_.begin() + static_cast<std::ptrdiff_t>(position_), out.size(), out.begin());
  position_ += out.size();
  ++draws_taken_;
}

std::unique_ptr<NoiseSource> make_noise_source(std::uint64_t seed, const std::string& noise_npz) {
  if (noise_npz.empty()) return std::make_unique<PrefetchingTorchNoise>(seed);
  return std::make_unique<RecordedNoise>(RecordedNoise::from_npz(noise_npz));
}

}  // namespace medport::diffusion
