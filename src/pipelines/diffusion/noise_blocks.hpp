#pragma once
// Gaussian draws for a device-resident sampling loop: generated on the host by a NoiseSource
// (torch's generator or recorded draws, in the source's exact order), a block of draws at a
// time on a worker thread while the device computes, uploaded together into one of two device
// buffers. A draw stays valid until the block after next is uploaded, so the two draws one
// RePaint step takes are always both on the device.
#include <cstddef>
#include <cstdint>
#include <future>
#include <vector>

#include "medport/pipelines/diffusion/noise_source.hpp"
#include "medport/runtime/device.hpp"

namespace medport::diffusion::detail {

class NoiseBlocks {
 public:
  // `total_draws` draws of `draw_shape` each are taken from `source` (never more). A block holds
  // `block_draws` draws (at least 2, and no more than about 64 MB).
  NoiseBlocks(NoiseSource& source, const runtime::Session& session, const Shape& draw_shape, std::size_t block_draws,
              std::size_t total_draws);
  ~NoiseBlocks();
  NoiseBlocks(const NoiseBlocks&) = delete;
  NoiseBlocks& operator=(const NoiseBlocks&) = delete;

  struct Draw {
    const runtime::DeviceTensor* block;  // [block_draws, *draw_shape]
    std::int64_t slot;                   // index of the draw in the block
  };
  // The next draw; throws UsageError past total_draws, and whatever the source throws.
  Draw next();
  std::size_t taken() const { return taken_; }
  std::size_t block_draws() const { return block_draws_; }

 private:
  void prefetch(std::size_t block);
  std::size_t draws_in_block(std::size_t block) const;

  NoiseSource& source_;
  std::size_t draw_numel_, block_draws_, total_, taken_ = 0;
  std::vector<float> host_[2];
  runtime::DeviceTensor device_[2];
  std::future<void> pending_;
};

}  // namespace medport::diffusion::detail
