#include "medport/pipelines/diffusion/device_sampler.hpp"

#include <array>
#include <cmath>
#include <memory>
#include <optional>

#include "medport/error.hpp"
#include "medport/pipelines/diffusion/onnx_denoiser.hpp"
#include "medport/runtime/device.hpp"
#include "noise_blocks.hpp"
#include "sampler_common.hpp"
#include "step_graphs.hpp"

namespace medport::diffusion {
namespace {

namespace rt = runtime;
using Buffers = std::array<rt::DeviceTensor, 2>;

Tensor int64_tensor(const Shape& shape, std::int64_t value) {
  std::vector<std::int64_t> values(static_cast<std::size_t>(shape_numel(shape)), value);
  return Tensor::from_bytes(DType::I64, shape, std::as_bytes(std::span<const std::int64_t>(values)));
}

// One transition graph on the UNet's provider, bound once per x buffer: it reads x[parity]
// (when it has an input "x") and writes x[1 - parity].
class StepGraph {
 public:
  StepGraph(const std::vector<std::byte>& model, const rt::SessionOptions& options) : session_(model, options) {}

  // A device input bound for every run (the model output, the image, the mask).
  StepGraph& constant(const std::string& name, const rt::DeviceTensor& value) {
    constants_.emplace_back(name, value);
    return *this;
  }

  void run(const Buffers& x, int parity, const detail::NoiseBlocks::Draw& draw, std::span<const float> params) {
    auto& binding = bindings_[static_cast<std::size_t>(parity)];
    if (!binding) {
      binding = std::make_unique<rt::Binding>(session_);
      const auto& inputs = session_.input_names();
      if (std::find(inputs.begin(), inputs.end(), "x") != inputs.end())
        binding->input("x", x[static_cast<std::size_t>(parity)]);
      binding->output("x_next", x[static_cast<std::size_t>(1 - parity)]);
      for (const auto& [name, value] : constants_) binding->input(name, value);
    }
    binding->input("noise", *draw.block);
    binding->input("slot", int64_tensor({}, draw.slot));
    if (!params.empty()) binding->input("p", Tensor::from_f32({static_cast<std::int64_t>(params.size())}, params));
    binding->run();
  }

 private:
  rt::Session session_;
  std::vector<std::pair<std::string, rt::DeviceTensor>> constants_;
  std::array<std::unique_ptr<rt::Binding>, 2> bindings_;
};

// The state of one device-resident run: two x buffers (each transition reads one and writes the
// other), the model output, the timestep input, the noise blocks and the per-step graphs' options.
class DeviceLoop {
 public:
  DeviceLoop(const rt::Session& unet, const Shape& shape, const SamplerOptions& options,
             const DeviceLoopOptions& loop, NoiseSource& noise, std::size_t total_draws)
      : unet_(unet), shape_(shape), loop_(loop), noise_(noise, unet, shape, loop.noise_block, total_draws) {
    require_unet_session(unet);
    step_options_ = unet.options();
    step_options_.cuda.cuda_graph = false;
    step_options_.intra_op_threads = 1;
    for (auto& x : x_) x = rt::DeviceTensor::allocate(unet, DType::F32, shape);
    t_ = rt::DeviceTensor::allocate(unet, DType::I64, {shape[0]});
    out_ = rt::DeviceTensor::allocate(unet, DType::F32,
                                      {shape[0], detail::model_out_channels(shape, options), shape[2], shape[3]});
    for (std::size_t p = 0; p < 2; ++p) {
      calls_[p] = std::make_unique<rt::Binding>(unet);
      calls_[p]->input("x", x_[p]);
      calls_[p]->input("t", t_);
    }
    graphs_ = loop.cuda_graphs && unet.options().provider == rt::Provider::Cuda;
    // x_T: the first draw.
    StepGraph pick(step_graphs::pick(), step_options_);
    pick.run(x_, 1, noise_.next(), {});
  }

  const rt::SessionOptions& step_options() const { return step_options_; }
  const rt::DeviceTensor& out() const { return out_; }
  detail::NoiseBlocks::Draw draw() { return noise_.next(); }

  // out <- unet(x, t) for the current x.
  void denoise(std::int64_t model_t) {
    t_.upload(int64_tensor({shape_[0]}, model_t));
    rt::Binding& call = *calls_[static_cast<std::size_t>(current_)];
    const std::string& name = unet_.output_names().front();
    if (!out_bound_) {
      // The first call lets the model choose its output shape, so that a wrong one is reported
      // as such; from then on every call writes into the same buffer.
      call.output_on_device(name);
      call.run(graphs_ ? -1 : 0);
      const rt::DeviceTensor got = call.outputs().front();
      if (got.shape() != out_.shape() || got.dtype() != DType::F32) {
        throw InputError("denoising model", "output " + std::string(dtype_name(got.dtype())) + " " +
                                                shape_string(got.shape()) + ", expected float32 " +
                                                shape_string(out_.shape()));
      }
      out_.copy_from(got);
      for (auto& c : calls_) c->output(name, out_);
      out_bound_ = true;
      return;
    }
    call.run(graphs_ ? current_ + 1 : 0);
  }

  // x <- graph(x, ...); the result becomes the current x.
  void transition(StepGraph& graph, const detail::NoiseBlocks::Draw& draw, std::span<const float> params) {
    graph.run(x_, current_, draw, params);
    current_ = 1 - current_;
  }

  // x for the step callback: downloaded when asked for, empty otherwise.
  std::span<const float> observed() {
    if (!loop_.observe_x) return {};
    observed_ = x_[static_cast<std::size_t>(current_)].download().to_f32();
    return observed_;
  }

  Tensor result() const { return x_[static_cast<std::size_t>(current_)].download(); }

 private:
  const rt::Session& unet_;
  Shape shape_;
  DeviceLoopOptions loop_;
  rt::SessionOptions step_options_;
  detail::NoiseBlocks noise_;
  Buffers x_;
  rt::DeviceTensor t_, out_;
  std::array<std::unique_ptr<rt::Binding>, 2> calls_;
  int current_ = 0;
  bool out_bound_ = false;
  bool graphs_ = false;
  std::vector<float> observed_;
};

std::array<float, step_graphs::kAncestralParams> ancestral_params(const DiffusionProcess& process, int t,
                                                                    const SamplerOptions& options) {
  const detail::StepConstants c = detail::step_constants(process, t, options.variance);
  std::array<float, step_graphs::kAncestralParams> p{};
  p[step_graphs::kSqrtRecip] = c.sqrt_recip;
  p[step_graphs::kSqrtRecipM1] = c.sqrt_recipm1;
  p[step_graphs::kCoef1] = c.coef1;
  p[step_graphs::kCoef2] = c.coef2;
  p[step_graphs::kLogMax] = c.log_max;
  p[step_graphs::kLogMin] = c.log_min;
  p[step_graphs::kNonzero] = t != 0 ? 1.0f : 0.0f;
  p[step_graphs::kFixedStd] = std::exp(0.5f * c.fixed_log_variance);
  return p;
}

void notify(const StepCallback& on_step, std::size_t index, std::size_t total, int t, bool undo, DeviceLoop& loop) {
  if (on_step) on_step(StepInfo{index, total, t, undo, loop.observed()});
}

}  // namespace

Tensor sample_ddpm_on_device(const DiffusionProcess& process, const runtime::Session& unet, const Shape& shape,
                             NoiseSource& noise, const SamplerOptions& options, const DeviceLoopOptions& loop_options,
                             const StepCallback& on_step) {
  detail::check_process(process);
  detail::checked_numel(shape);
  DeviceLoop loop(unet, shape, options, loop_options, noise, detail::ddpm_draws(process));
  StepGraph step(step_graphs::ancestral(shape[1], options), loop.step_options());
  step.constant("out", loop.out());
  const auto total = static_cast<std::size_t>(process.num_steps());
  for (int t = process.num_steps() - 1; t >= 0; --t) {
    loop.denoise(process.timestep_map[static_cast<std::size_t>(t)]);
    const auto p = ancestral_params(process, t, options);
    loop.transition(step, loop.draw(), p);
    notify(on_step, total - 1 - static_cast<std::size_t>(t), total, t, false, loop);
  }
  return loop.result();
}

Tensor sample_ddim_on_device(const DiffusionProcess& process, const runtime::Session& unet, const Shape& shape,
                             NoiseSource& noise, double eta, const SamplerOptions& options,
                             const DeviceLoopOptions& loop_options, const StepCallback& on_step) {
  detail::check_process(process);
  if (!(eta >= 0.0) || !std::isfinite(eta)) throw UsageError("DDIM eta must be a finite number >= 0");
  detail::checked_numel(shape);
  DeviceLoop loop(unet, shape, options, loop_options, noise, detail::ddpm_draws(process));
  StepGraph step(step_graphs::ddim(shape[1], options.clip_denoised), loop.step_options());
  step.constant("out", loop.out());
  const auto total = static_cast<std::size_t>(process.num_steps());
  for (int t = process.num_steps() - 1; t >= 0; --t) {
    const auto k = static_cast<std::size_t>(t);
    loop.denoise(process.timestep_map[k]);
    const detail::StepConstants c = detail::step_constants(process, t, options.variance);
    const detail::DdimConstants d = detail::ddim_constants(process, t, eta);
    std::array<float, step_graphs::kDdimParams> p{};
    p[step_graphs::kDdimSqrtRecip] = c.sqrt_recip;
    p[step_graphs::kDdimSqrtRecipM1] = c.sqrt_recipm1;
    p[step_graphs::kSqrtAbarPrev] = d.sqrt_abar_prev;
    p[step_graphs::kEpsScale] = d.eps_scale;
    p[step_graphs::kNoiseScale] = d.noise_scale;
    loop.transition(step, loop.draw(), p);
    notify(on_step, total - 1 - k, total, t, false, loop);
  }
  return loop.result();
}

Tensor sample_repaint_on_device(const DiffusionProcess& process, const runtime::Session& unet, const Tensor& gt,
                                const Tensor& keep_mask, NoiseSource& noise, const JumpSchedule& schedule,
                                const SamplerOptions& options, const DeviceLoopOptions& loop_options,
                                const StepCallback& on_step) {
  detail::check_process(process);
  const Shape shape = gt.shape();
  detail::checked_numel(shape);
  if (schedule.t_T > process.num_steps()) {
    throw UsageError("RePaint t_T " + std::to_string(schedule.t_T) + " exceeds the " +
                     std::to_string(process.num_steps()) + " steps of the process");
  }
  const std::vector<float> mask = detail::expand_keep_mask(keep_mask, shape);
  const std::vector<int> times = repaint_times(schedule);
  DeviceLoop loop(unet, shape, options, loop_options, noise, detail::repaint_draws(times));
  StepGraph step(step_graphs::ancestral(shape[1], options), loop.step_options());
  step.constant("out", loop.out());
  StepGraph merge(step_graphs::merge_known(), loop.step_options());
  merge.constant("gt", runtime::DeviceTensor::from_host(unet, gt.to(DType::F32)))
      .constant("mask", runtime::DeviceTensor::from_host(unet, Tensor::from_f32(shape, mask)));
  StepGraph undo(step_graphs::undo(), loop.step_options());

  bool have_x0 = false;
  const std::size_t total = times.size() - 1;
  for (std::size_t i = 0; i < total; ++i) {
    const int t_last = times[i];
    const int t_cur = times[i + 1];
    if (t_cur < t_last) {
      const detail::NoiseBlocks::Draw z = loop.draw();
      if (have_x0) {
        const detail::MergeConstants m = detail::merge_constants(process, t_last);
        const std::array<float, 2> p{m.gt_weight, m.noise_weight};
        loop.transition(merge, loop.draw(), p);
      }
      loop.denoise(process.timestep_map[static_cast<std::size_t>(t_last)]);
      const auto p = ancestral_params(process, t_last, options);
      loop.transition(step, z, p);
      have_x0 = true;
      notify(on_step, i, total, t_last, false, loop);
    } else {
      const detail::UndoConstants u = detail::undo_constants(process, t_last);
      const std::array<float, 2> p{u.keep, u.add};
      loop.transition(undo, loop.draw(), p);
      notify(on_step, i, total, t_last, true, loop);
    }
  }
  return loop.result();
}

}  // namespace medport::diffusion
