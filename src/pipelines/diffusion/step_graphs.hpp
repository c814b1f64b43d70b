#pragma once
// The sampler arithmetic between two UNet calls as small ONNX graphs, so that a sampling loop can
// run on the UNet's provider and keep x on its device. Each graph reproduces the host sampler's
// float32 expression for one transition (same operations in the same order); per-step scalars
// come in a float vector "p", the Gaussian draw as slot "slot" (int64 scalar) of a block of draws
// "noise" [B, N, C, H, W] uploaded ahead. x, gt, mask, noise draws: [N, C, H, W] float32.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "medport/pipelines/diffusion/samplers.hpp"

namespace medport::diffusion::step_graphs {

// "noise", "slot" -> "x_next": the draw itself (x_T).
std::vector<std::byte> pick();

// DDPM / RePaint reverse step (guided-diffusion p_sample): "x", "out" [N, C or 2C, H, W], "noise",
// "slot", "p" [8] = sqrt_recip_abar, sqrt_recipm1_abar, coef1, coef2, log(beta), clipped
// posterior log variance, nonzero (t != 0), fixed standard deviation -> "x_next".
enum AncestralParam { kSqrtRecip, kSqrtRecipM1, kCoef1, kCoef2, kLogMax, kLogMin, kNonzero, kFixedStd, kAncestralParams };
std::vector<std::byte> ancestral(std::int64_t channels, const SamplerOptions& options);

// DDIM step: "x", "out", "noise", "slot", "p" [5] = sqrt_recip_abar, sqrt_recipm1_abar,
// sqrt(abar_prev), eps scale, noise scale -> "x_next".
enum DdimParam { kDdimSqrtRecip, kDdimSqrtRecipM1, kSqrtAbarPrev, kEpsScale, kNoiseScale, kDdimParams };
std::vector<std::byte> ddim(std::int64_t channels, bool clip_denoised);

// RePaint known-region merge: "x", "gt", "mask" (1 = known), "noise", "slot", "p" [2] =
// sqrt(abar), sqrt(1 - abar) -> "x_next" = mask (sqrt(abar) gt + sqrt(1 - abar) z) + (1 - mask) x.
std::vector<std::byte> merge_known();

// RePaint undo (forward diffusion by one step): "x", "noise", "slot", "p" [2] = sqrt(1 - beta),
// sqrt(beta) -> "x_next".
std::vector<std::byte> undo();

}  // namespace medport::diffusion::step_graphs
