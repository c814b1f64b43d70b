#include "noise_blocks.hpp"

#include <algorithm>
#include <span>

#include "medport/error.hpp"

namespace medport::diffusion::detail {
namespace {
constexpr std::size_t kMaxBlockBytes = std::size_t{64} << 20;
}

NoiseBlocks::NoiseBlocks(NoiseSource& source, const runtime::Session& session, const Shape& draw_shape,
                         std::size_t block_draws, std::size_t total_draws)
    : source_(source), draw_numel_(static_cast<std::size_t>(shape_numel(draw_shape))), total_(total_draws) {
  const std::size_t fits = std::max<std::size_t>(2, kMaxBlockBytes / (draw_numel_ * sizeof(float)));
  block_draws_ = std::clamp<std::size_t>(std::min(block_draws, fits), 2, std::max<std::size_t>(2, total_draws));
  Shape block_shape{static_cast<std::int64_t>(block_draws_)};
  block_shape.insert(block_shape.end(), draw_shape.begin(), draw_shape.end());
  for (int b = 0; b < 2 && static_cast<std::size_t>(b) * block_draws_ < total_; ++b) {
    host_[b].resize(block_draws_ * draw_numel_);
    device_[b] = runtime::DeviceTensor::allocate(session, DType::F32, block_shape);
  }
  if (total_ > 0) prefetch(0);
}

NoiseBlocks::~NoiseBlocks() {
  if (pending_.valid()) pending_.wait();
}

std::size_t NoiseBlocks::draws_in_block(std::size_t block) const {
  return std::min(block_draws_, total_ - block * block_draws_);
}

void NoiseBlocks::prefetch(std::size_t block) {
  std::vector<float>& host = host_[block % 2];
  const std::size_t count = draws_in_block(block);
  pending_ = std::async(std::launch::async, [this, &host, count] {
    for (std::size_t d = 0; d < count; ++d) source_.fill(std::span<float>(host.data() + d * draw_numel_, draw_numel_));
  });
}

NoiseBlocks::Draw NoiseBlocks::next() {
  if (taken_ >= total_) throw UsageError("the sampler asked for more Gaussian draws than it planned");
  const std::size_t block = taken_ / block_draws_;
  const std::size_t slot = taken_ % block_draws_;
  if (slot == 0) {
    pending_.get();  // rethrows the source's error, if any
    const std::size_t count = draws_in_block(block);
    const std::vector<float>& host = host_[block % 2];
    device_[block % 2].upload_at(0, Tensor::from_f32({static_cast<std::int64_t>(count * draw_numel_)},
                                                     std::span<const float>(host.data(), count * draw_numel_)));
    if ((block + 1) * block_draws_ < total_) prefetch(block + 1);
  }
  ++taken_;
  return {&device_[block % 2], static_cast<std::int64_t>(slot)};
}

}  // namespace medport::diffusion::detail
