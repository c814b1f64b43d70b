// `medport sample MODEL.onnx -o OUT.npz`: unconditional DDPM / DDIM sampling with a compiled
// guided-diffusion UNet (`medport convert` of the checkpoint); torch-identical noise for --seed.
#include <cstdio>
#include <filesystem>

#include "command.hpp"
#include "diffusion_flags.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/diffusion/images.hpp"
#include "medport/pipelines/diffusion/onnx_denoiser.hpp"
#include "medport/pipelines/diffusion/settings.hpp"
#include "medport/util/output_paths.hpp"

namespace {

struct SampleArgs {
  medport::cli::DiffusionFlags common;
  std::string output, images, sampler = "ddpm";
  std::int64_t batch = 1, size = 0;
  int steps = 0;
  double eta = 0.0;
  bool no_clip = false, ddim = false;
};

// The short form: --steps N is respacing "N" (or "ddimN" with --ddim), --ddim picks the
// DDIM sampler, and an -o that is not an .npz is a folder receiving samples.npz + sample_NNN.png.
SampleArgs resolve_short_form(SampleArgs a) {
  if (a.ddim) a.sampler = "ddim";
  if (a.steps > 0) {
    if (!a.common.respacing.empty()) throw medport::UsageError("give --steps or --respacing, not both");
    a.common.respacing = (a.sampler == "ddim" ? "ddim" : "") + std::to_string(a.steps);
  }
  const std::filesystem::path out(a.output);
  if (out.extension() != ".npz") {
    if (a.images.empty()) a.images = out.string();
    a.output = (out / "samples.npz").string();
  }
  return a;
}

int run(const SampleArgs& args) {
  using namespace medport;
  const SampleArgs a = resolve_short_form(args);
  const cli::LoopChoice loop = cli::loop_choice(a.common);
  const runtime::SessionOptions session_options = cli::unet_session_options(a.common);  // checks CUDA first
  namespace d = medport::diffusion;
  d::DiffusionSettings s = cli::settings_with_overrides(a.common);
  if (a.no_clip) s.sampler.clip_denoised = false;
  const std::int64_t size = a.size > 0 ? a.size : s.image_size;
  if (size <= 0) throw UsageError("--size is required (the model's sidecar does not record an image size)");
  if (size % s.spatial_multiple != 0) {
    throw UsageError("--size must be a multiple of " + std::to_string(s.spatial_multiple) + " for this UNet");
  }
  if (a.sampler == "ddpm" && a.eta != 0.0) throw UsageError("--eta applies to --sampler ddim only");
  cli::check_generation_size(a.batch, s.in_channels, size, size, s.image_size);
  // Hours of sampling must not end in "cannot write": the destinations are checked first.
  check_output_file_writable(a.output);
  if (!a.images.empty()) check_output_folder_writable(a.images);
  const d::DiffusionProcess process = d::make_diffusion_process(s.schedule, s.diffusion_steps, s.respacing);

  runtime::Session session(a.common.model, session_options);

  const std::unique_ptr<d::NoiseSource> noise = d::make_noise_source(a.common.seed, a.common.noise_npz);
  d::ProgressBar bar(a.common.quiet ? nullptr : stderr, a.sampler);
  const Shape shape{a.batch, s.in_channels, size, size};
  Tensor samples;
  if (loop.on_device) {
    samples = a.sampler == "ddim"
                  ? d::sample_ddim_on_device(process, session, shape, *noise, a.eta, s.sampler, loop.options, bar.callback())
                  : d::sample_ddpm_on_device(process, session, shape, *noise, s.sampler, loop.options, bar.callback());
  } else {
    const d::DenoiseFn model = d::session_denoiser(session);
    samples = a.sampler == "ddim" ? d::sample_ddim(process, model, shape, *noise, a.eta, s.sampler, bar.callback())
                                  : d::sample_ddpm(process, model, shape, *noise, s.sampler, bar.callback());
  }
  bar.finish();
  ckpt::write_npz(a.output, {{"samples", samples}});
  if (!a.images.empty()) {
    for (std::int64_t i = 0; i < a.batch; ++i) {
      std::string name = std::to_string(i);
      name = "sample_" + std::string(name.size() < 3 ? 3 - name.size() : 0, '0') + name +
             ".png";
      d::write_png(std::filesystem::path(a.images) / name, samples, i);
    }
  }
  std::fprintf(stderr, "%lld sample(s) %s, %d steps (%s, respacing %s, %s loop on %s) -> %s\n",
               static_cast<long long>(a.batch), shape_string(shape).c_str(), process.num_steps(),
               std::string(d::noise_schedule_name(s.schedule)).c_str(), s.respacing.c_str(),
               loop.on_device ? "device" : "host", a.common.device.provider.c_str(), a.output.c_str());
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  auto a = std::make_shared<SampleArgs>();
  auto* cmd = root.add_subcommand("sample", "Generate images with a compiled guided-diffusion UNet (DDPM or DDIM)");
  medport::cli::add_diffusion_flags(*cmd, a->common, "timestep respacing: 250, ddim50, 10,20,30 ...");
  cmd->add_option("-o,--output", a->output,
                  "OUTDIR (receives samples.npz and sample_NNN.png) or an .npz receiving 'samples' [N,C,H,W] in [-1,1]")
      ->required();
  cmd->add_option("--images", a->images, "folder receiving sample_NNN.png (8-bit)");
  cmd->add_option("--n,--batch", a->batch, "images to generate (one batch)")->check(CLI::Range(1, 1024));
  cmd->add_option("--steps", a->steps, "sampling steps: respacing N (ddimN with --ddim)")->check(CLI::Range(1, 1000000));
  cmd->add_flag("--ddim", a->ddim, "DDIM sampler (same as --sampler ddim)");
  cmd->add_option("--size", a->size, "image side in pixels (default: the sidecar's image size)")->check(CLI::Range(1, 16384));
  cmd->add_option("--sampler", a->sampler, "ddpm | ddim")->check(CLI::IsMember({"ddpm", "ddim"}));
  cmd->add_option("--eta", a->eta, "DDIM eta")->check(CLI::Range(0.0, 10.0));
  cmd->add_flag("--no-clip", a->no_clip, "do not clamp the predicted x0 to [-1,1]");
  return [a] { return run(*a); };
}

}  // namespace
MEDPORT_COMMAND(setup);
