#include "step_graphs.hpp"

#include "medport/graph/builder.hpp"
#include "medport/graph/onnx_writer.hpp"

namespace medport::diffusion::step_graphs {
namespace {

using graph::Builder;
using graph::Value;

const graph::Dims kImage{"N", "C", "H", "W"};

struct Common {
  Builder b;
  Value noise, slot, p;
  explicit Common(const char* name, std::int64_t params) : b(name) {
    noise = b.input("noise", DType::F32, {"B", "N", "C", "H", "W"});
    slot = b.input("slot", DType::I64, {});
    if (params > 0) p = b.input("p", DType::F32, {params});
  }
  Value param(std::int64_t index) { return b.gather(p, index, 0, "param"); }
  Value draw() { return b.gather(noise, slot, 0, "draw"); }
  std::vector<std::byte> finish(const Value& x_next) {
    b.output(x_next, "x_next");
    return graph::to_model_bytes(std::move(b).finish());
  }
};

// pred_x0 = sqrt(1/abar) x - sqrt(1/abar - 1) eps, clamped to [-1, 1] when asked.
Value predict_x0(Builder& b, const Value& x, const Value& eps, const Value& sqrt_recip, const Value& sqrt_recipm1,
                 bool clip) {
  const Value x0 = b.sub(b.mul(sqrt_recip, x), b.mul(sqrt_recipm1, eps), "pred_x0");
  return clip ? b.clip(x0, -1.0, 1.0, "clip_x0") : x0;
}

Value channels_of(Builder& b, const Value& out, std::int64_t from, std::int64_t to, const char* hint) {
  return b.slice(out, {from}, {to}, {1}, {}, hint);
}

}  // namespace

std::vector<std::byte> pick() {
  Common g("diffusion_pick", 0);
  return g.finish(g.draw());
}

std::vector<std::byte> ancestral(std::int64_t channels, const SamplerOptions& options) {
  Common g("diffusion_ancestral_step", kAncestralParams);
  Builder& b = g.b;
  const Value x = b.input("x", DType::F32, kImage);
  const Value out = b.input("out", DType::F32, kImage);
  const Value eps = channels_of(b, out, 0, channels, "eps");
  const Value x0 = predict_x0(b, x, eps, g.param(kSqrtRecip), g.param(kSqrtRecipM1), options.clip_denoised);
  const Value mean = b.add(b.mul(g.param(kCoef1), x0), b.mul(g.param(kCoef2), x), "posterior_mean");
  Value std_dev;
  if (options.variance == VarianceType::LearnedRange) {
    // frac = (v + 1) / 2 between the log-variance bounds.
    const Value v = channels_of(b, out, channels, 2 * channels, "v");
    const Value frac = b.div(b.add(v, 1.0), 2.0, "frac");
    const Value one = b.scalar(1.0);
    const Value log_variance =
        b.add(b.mul(frac, g.param(kLogMax)), b.mul(b.sub(one, frac), g.param(kLogMin)), "log_variance");
    std_dev = b.exp(b.mul(log_variance, 0.5), "std");
  } else {
    std_dev = g.param(kFixedStd);
  }
  const Value noise_term = b.mul(b.mul(g.param(kNonzero), std_dev), g.draw(), "noise_term");
  return g.finish(b.add(mean, noise_term, "x_next"));
}

std::vector<std::byte> ddim(std::int64_t channels, bool clip_denoised) {
  Common g("diffusion_ddim_step", kDdimParams);
  Builder& b = g.b;
  const Value x = b.input("x", DType::F32, kImage);
  const Value out = b.input("out", DType::F32, kImage);
  const Value sqrt_recip = g.param(kDdimSqrtRecip);
  const Value sqrt_recipm1 = g.param(kDdimSqrtRecipM1);
  const Value x0 = predict_x0(b, x, channels_of(b, out, 0, channels, "eps"), sqrt_recip, sqrt_recipm1, clip_denoised);
  // eps re-derived from the (clipped) x0, as guided-diffusion's ddim_sample does.
  const Value eps = b.div(b.sub(b.mul(sqrt_recip, x), x0), sqrt_recipm1, "eps_from_x0");
  const Value kept = b.add(b.mul(x0, g.param(kSqrtAbarPrev)), b.mul(g.param(kEpsScale), eps), "ddim_mean");
  return g.finish(b.add(kept, b.mul(g.param(kNoiseScale), g.draw()), "x_next"));
}

std::vector<std::byte> merge_known() {
  Common g("repaint_merge_known", 2);
  Builder& b = g.b;
  const Value x = b.input("x", DType::F32, kImage);
  const Value gt = b.input("gt", DType::F32, kImage);
  const Value mask = b.input("mask", DType::F32, kImage);
  const Value noised_gt = b.add(b.mul(g.param(0), gt), b.mul(g.param(1), g.draw()), "noised_gt");
  const Value unknown = b.sub(b.scalar(1.0), mask, "unknown");
  return g.finish(b.add(b.mul(mask, noised_gt), b.mul(unknown, x), "x_next"));
}

std::vector<std::byte> undo() {
  Common g("repaint_undo", 2);
  Builder& b = g.b;
  const Value x = b.input("x", DType::F32, kImage);
  return g.finish(b.add(b.mul(g.param(0), x), b.mul(g.param(1), g.draw()), "x_next"));
}

}  // namespace medport::diffusion::step_graphs
