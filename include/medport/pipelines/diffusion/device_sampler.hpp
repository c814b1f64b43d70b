#pragma once
// The DDPM, DDIM and RePaint loops of samplers.hpp with the whole loop on the UNet session's
// device: x, the model output, the image and the keep mask stay in device memory, the step
// arithmetic runs as small generated ONNX graphs on the same provider (same float32 expressions
// as the host loops), Gaussian draws come from the same NoiseSource in the same order and are
// uploaded in blocks ahead of use. Only the final sample comes back (and x after every step when
// asked). On the CPU provider "device" memory is host memory and the results match the host loops.
#include <cstddef>

#include "medport/pipelines/diffusion/samplers.hpp"
#include "medport/runtime/session.hpp"

namespace medport::diffusion {

struct DeviceLoopOptions {
  std::size_t noise_block = 16;  // draws generated on the host and uploaded at once (>= 2, <= ~64 MB)
  // Replay each UNet call as a CUDA graph: the UNet session must have CudaOptions::cuda_graph
  // (two graphs are captured, one per x buffer). Ignored on the CPU provider.
  bool cuda_graphs = false;
  // Download x after every transition for the step callback (StepInfo::x; tests and debugging).
  // Off: StepInfo::x is empty and nothing but the final sample leaves the device.
  bool observe_x = false;
};

// `unet`: a guided-diffusion UNet session (inputs "x" [N,C,H,W] float32 and "t" [N] int64, first
// output [N, C or 2C, H, W] float32) on any provider. Arguments and errors as the host loops'.
Tensor sample_ddpm_on_device(const DiffusionProcess& process, const runtime::Session& unet, const Shape& shape,
                             NoiseSource& noise, const SamplerOptions& options = {},
                             const DeviceLoopOptions& loop = {}, const StepCallback& on_step = {});
Tensor sample_ddim_on_device(const DiffusionProcess& process, const runtime::Session& unet, const Shape& shape,
                             NoiseSource& noise, double eta, const SamplerOptions& options = {},
                             const DeviceLoopOptions& loop = {}, const StepCallback& on_step = {});
Tensor sample_repaint_on_device(const DiffusionProcess& process, const runtime::Session& unet, const Tensor& gt,
                                const Tensor& keep_mask, NoiseSource& noise, const JumpSchedule& schedule = {},
                                const SamplerOptions& options = {}, const DeviceLoopOptions& loop = {},
                                const StepCallback& on_step = {});

}  // namespace medport::diffusion
