#include "medport/pipelines/diffusion/samplers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "medport/error.hpp"
#include "sampler_common.hpp"

namespace medport::diffusion {
namespace {

using detail::check_process;
using detail::checked_numel;
using detail::StepConstants;
using detail::step_constants;

Tensor timesteps_tensor(std::int64_t model_t, std::int64_t batch) {
  std::vector<std::int64_t> values(static_cast<std::size_t>(batch), model_t);
  return Tensor::from_bytes(DType::I64, {batch}, std::as_bytes(std::span<const std::int64_t>(values)));
}

Tensor as_tensor(const Shape& shape, std::span<const float> values) { return Tensor::from_f32(shape, values); }

// Runs the model and splits its output: eps (and v for the learned range), checked against x.
class ModelStep {
 public:
  ModelStep(const DenoiseFn& model, const Shape& shape, const SamplerOptions& options)
      : model_(model), shape_(shape), options_(options) {}

  // Returns the raw output; eps of image n channel c at out[(n * out_c + c) * hw + i].
  const std::vector<float>& run(std::span<const float> x, std::int64_t model_t) {
    const Tensor out = model_(as_tensor(shape_, x), timesteps_tensor(model_t, shape_[0]));
    const Shape expected{shape_[0], detail::model_out_channels(shape_, options_), shape_[2], shape_[3]};
    if (out.shape() != expected) {
      throw InputError("denoising model", "output shape " + shape_string(out.shape()) + ", expected " +
                                              shape_string(expected));
    }
    if (out.dtype() == DType::F32 && out.is_contiguous()) {
      output_.resize(static_cast<std::size_t>(out.numel()));
      std::memcpy(output_.data(), out.raw_data(), output_.size() * sizeof(float));
    } else {
      output_ = out.to_f32();
    }
    return output_;
  }

  std::size_t out_channels() const { return static_cast<std::size_t>(detail::model_out_channels(shape_, options_)); }

 private:
  const DenoiseFn& model_;
  Shape shape_;
  SamplerOptions options_;
  std::vector<float> output_;
};

struct Layout {
  std::size_t batch, channels, plane;  // plane = H * W
  explicit Layout(const Shape& s)
      : batch(static_cast<std::size_t>(s[0])),
        channels(static_cast<std::size_t>(s[1])),
        plane(static_cast<std::size_t>(s[2] * s[3])) {}
};

// pred_x0 = sqrt(1/abar) x - sqrt(1/abar - 1) eps, clamped: written into x0.
void predict_x0(const Layout& L, const StepConstants& c, std::span<const float> x, const std::vector<float>& out,
                std::size_t out_channels, bool clip, std::vector<float>& x0) {
  x0.resize(x.size());
  for (std::size_t n = 0; n < L.batch; ++n) {
    for (std::size_t ch = 0; ch < L.channels; ++ch) {
      const std::size_t base = (n * L.channels + ch) * L.plane;
      const float* eps = out.data() + (n * out_channels + ch) * L.plane;
      const float* xs = x.data() + base;
      float* dst = x0.data() + base;
      for (std::size_t i = 0; i < L.plane; ++i) {
        float v = c.sqrt_recip * xs[i] - c.sqrt_recipm1 * eps[i];
        if (clip) v = std::clamp(v, -1.0f, 1.0f);
        dst[i] = v;
      }
    }
  }
}

// x <- posterior mean + [t != 0] exp(logvar / 2) z (guided-diffusion p_sample).
void ancestral_update(const Layout& L, const StepConstants& c, int t, const SamplerOptions& options,
                      const std::vector<float>& out, std::size_t out_channels, const std::vector<float>& x0,
                      std::span<const float> z, std::span<float> x) {
  const float nonzero = t != 0 ? 1.0f : 0.0f;
  const bool learned = options.variance == VarianceType::LearnedRange;
  const float fixed_std = std::exp(0.5f * c.fixed_log_variance);
  for (std::size_t n = 0; n < L.batch; ++n) {
    for (std::size_t ch = 0; ch < L.channels; ++ch) {
      const std::size_t base = (n * L.channels + ch) * L.plane;
      const float* v = out.data() + (n * out_channels + L.channels + ch) * L.plane;
      const float* x0s = x0.data() + base;
      const float* zs = z.data() + base;
      float* xs = x.data() + base;
      for (std::size_t i = 0; i < L.plane; ++i) {
        const float mean = c.coef1 * x0s[i] + c.coef2 * xs[i];
        float std_dev = fixed_std;
        if (learned) {
          const float frac = (v[i] + 1.0f) / 2.0f;
          std_dev = std::exp(0.5f * (frac * c.log_max + (1.0f - frac) * c.log_min));
        }
        xs[i] = mean + nonzero * std_dev * zs[i];
      }
    }
  }
}

void notify(const StepCallback& on_step, std::size_t index, std::size_t total, int t, bool undo,
            std::span<const float> x) {
  if (on_step) on_step(StepInfo{index, total, t, undo, x});
}

}  // namespace

Tensor sample_ddpm(const DiffusionProcess& process, const DenoiseFn& model, const Shape& shape, NoiseSource& noise,
                   const SamplerOptions& options, const StepCallback& on_step) {
  check_process(process);
  const std::size_t numel = checked_numel(shape);
  const Layout L(shape);
  std::vector<float> x(numel), z(numel), x0;
  noise.fill(x);
  ModelStep step(model, shape, options);
  const auto total = static_cast<std::size_t>(process.num_steps());
  for (int t = process.num_steps() - 1; t >= 0; --t) {
    const StepConstants c = step_constants(process, t, options.variance);
    const std::vector<float>& out = step.run(x, process.timestep_map[static_cast<std::size_t>(t)]);
    predict_x0(L, c, x, out, step.out_channels(), options.clip_denoised, x0);
    noise.fill(z);
    ancestral_update(L, c, t, options, out, step.out_channels(), x0, z, x);
    notify(on_step, total - 1 - static_cast<std::size_t>(t), total, t, false, x);
  }
  return as_tensor(shape, x);
}

Tensor sample_ddim(const DiffusionProcess& process, const DenoiseFn& model, const Shape& shape, NoiseSource& noise,
                   double eta, const SamplerOptions& options, const StepCallback& on_step) {
  check_process(process);
  if (!(eta >= 0.0) || !std::isfinite(eta)) throw UsageError("DDIM eta must be a finite number >= 0");
  const std::size_t numel = checked_numel(shape);
  const Layout L(shape);
  std::vector<float> x(numel), z(numel), x0;
  noise.fill(x);
  ModelStep step(model, shape, options);
  const auto total = static_cast<std::size_t>(process.num_steps());
  for (int t = process.num_steps() - 1; t >= 0; --t) {
    const auto k = static_cast<std::size_t>(t);
    const StepConstants c = step_constants(process, t, options.variance);
    const std::vector<float>& out = step.run(x, process.timestep_map[k]);
    predict_x0(L, c, x, out, step.out_channels(), options.clip_denoised, x0);
    const detail::DdimConstants d = detail::ddim_constants(process, t, eta);
    noise.fill(z);
    for (std::size_t i = 0; i < numel; ++i) {
      const float eps = (c.sqrt_recip * x[i] - x0[i]) / c.sqrt_recipm1;
      x[i] = x0[i] * d.sqrt_abar_prev + d.eps_scale * eps + d.noise_scale * z[i];
    }
    notify(on_step, total - 1 - k, total, t, false, x);
  }
  return as_tensor(shape, x);
}

std::vector<int> repaint_times(const JumpSchedule& s) {
  constexpr int kMaxT = 100000;
  if (s.t_T < 1 || s.t_T > kMaxT) throw UsageError("RePaint t_T must be in 1.." + std::to_string(kMaxT));
  for (const int length : {s.jump_length, s.jump2_length, s.jump3_length}) {
    if (length < 1 || length > s.t_T) throw UsageError("RePaint jump lengths must be in 1..t_T");
  }
  for (const int count : {s.n_sample, s.jump_n_sample, s.jump2_n_sample, s.jump3_n_sample}) {
    if (count < 1 || count > 1000) throw UsageError("RePaint sample counts must be in 1..1000");
  }
  const auto fresh_jumps = [&](int length, int n_sample) {
    std::map<int, int> jumps;
    for (int j = 0; j < s.t_T - length; j += length) jumps[j] = n_sample - 1;
    return jumps;
  };
  const auto take = [](std::map<int, int>& jumps, int t) {
    const auto it = jumps.find(t);
    if (it == jumps.end() || it->second <= 0) return false;
    --it->second;
    return true;
  };
  std::map<int, int> jumps = fresh_jumps(s.jump_length, s.jump_n_sample);
  std::map<int, int> jumps2 = fresh_jumps(s.jump2_length, s.jump2_n_sample);
  std::map<int, int> jumps3 = fresh_jumps(s.jump3_length, s.jump3_n_sample);
  std::vector<int> ts;
  const std::size_t limit = std::size_t{50'000'000};
  int t = s.t_T;
  while (t >= 1) {
    if (ts.size() > limit) throw UsageError("RePaint schedule is too long");
    ts.push_back(--t);
    if (t + 1 < s.t_T - 1 && t <= s.start_resampling) {
      for (int i = 0; i < s.n_sample - 1; ++i) {
        ts.push_back(++t);
        if (t >= 0) ts.push_back(--t);
      }
    }
    if (t <= s.start_resampling - s.jump3_length && take(jumps3, t)) {
      for (int i = 0; i < s.jump3_length; ++i) ts.push_back(++t);
    }
    if (t <= s.start_resampling - s.jump2_length && take(jumps2, t)) {
      for (int i = 0; i < s.jump2_length; ++i) ts.push_back(++t);
      jumps3 = fresh_jumps(s.jump3_length, s.jump3_n_sample);
    }
    if (t <= s.start_resampling - s.jump_length && take(jumps, t)) {
      for (int i = 0; i < s.jump_length; ++i) ts.push_back(++t);
      jumps2 = fresh_jumps(s.jump2_length, s.jump2_n_sample);
      jumps3 = fresh_jumps(s.jump3_length, s.jump3_n_sample);
    }
  }
  ts.push_back(-1);
  return ts;
}

RepaintCounts count_repaint_steps(std::span<const int> times) {
  RepaintCounts counts;
  for (std::size_t i = 0; i + 1 < times.size(); ++i) {
    if (times[i + 1] < times[i]) {
      ++counts.model_calls;
    } else {
      ++counts.undo_steps;
    }
  }
  return counts;
}

Tensor sample_repaint(const DiffusionProcess& process, const DenoiseFn& model, const Tensor& gt,
                      const Tensor& keep_mask, NoiseSource& noise, const JumpSchedule& schedule,
                      const SamplerOptions& options, const StepCallback& on_step) {
  check_process(process);
  const Shape shape = gt.shape();
  const std::size_t numel = checked_numel(shape);
  if (schedule.t_T > process.num_steps()) {
    throw UsageError("RePaint t_T " + std::to_string(schedule.t_T) + " exceeds the " +
                     std::to_string(process.num_steps()) + " steps of the process");
  }
  const Layout L(shape);
  const std::vector<float> gt_values = gt.to_f32();
  const std::vector<float> mask = detail::expand_keep_mask(keep_mask, shape);

  const std::vector<int> times = repaint_times(schedule);
  std::vector<float> x(numel), z(numel), z_gt(numel), x0;
  noise.fill(x);
  ModelStep step(model, shape, options);
  bool have_x0 = false;
  const std::size_t total = times.size() - 1;
  for (std::size_t i = 0; i < total; ++i) {
    const int t_last = times[i];
    const int t_cur = times[i + 1];
    if (t_cur < t_last) {
      const auto k = static_cast<std::size_t>(t_last);
      noise.fill(z);
      if (have_x0) {
        // Known region re-noised to level t (same step as the model input), unknown kept.
        noise.fill(z_gt);
        const detail::MergeConstants m = detail::merge_constants(process, t_last);
        for (std::size_t j = 0; j < numel; ++j) {
          const float noised_gt = m.gt_weight * gt_values[j] + m.noise_weight * z_gt[j];
          x[j] = mask[j] * noised_gt + (1.0f - mask[j]) * x[j];
        }
      }
      const StepConstants c = step_constants(process, t_last, options.variance);
      const std::vector<float>& out = step.run(x, process.timestep_map[k]);
      predict_x0(L, c, x, out, step.out_channels(), options.clip_denoised, x0);
      ancestral_update(L, c, t_last, options, out, step.out_channels(), x0, z, x);
      have_x0 = true;
      notify(on_step, i, total, t_last, false, x);
    } else {
      // Undo: forward-diffuse one step, x <- sqrt(1 - beta) x + sqrt(beta) z at t_last + 1.
      const detail::UndoConstants u = detail::undo_constants(process, t_last);
      noise.fill(z);
      for (std::size_t j = 0; j < numel; ++j) x[j] = u.keep * x[j] + u.add * z[j];
      notify(on_step, i, total, t_last, true, x);
    }
  }
  return as_tensor(shape, x);
}

}  // namespace medport::diffusion
