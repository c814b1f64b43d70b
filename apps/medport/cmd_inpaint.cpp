// `medport inpaint MODEL.onnx --image IMG --mask MASK -o OUT.npz`: RePaint inpainting (EchoGAINS)
// with a compiled guided-diffusion UNet; mask 255 = keep the known pixel.
#include <cstdio>

#include "command.hpp"
#include "diffusion_flags.hpp"
#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/diffusion/images.hpp"
#include "medport/pipelines/diffusion/onnx_denoiser.hpp"
#include "medport/pipelines/diffusion/settings.hpp"
#include "medport/util/output_paths.hpp"

namespace {

struct InpaintArgs {
  medport::cli::DiffusionFlags common;
  std::string image, mask, output, images;
  std::int64_t batch = 1;
  int t_T = 0, jump_length = 0, jump_n_sample = 0;
  std::int64_t size = 0;  // centre-crop size for 8-bit images (0: the sidecar's image_size)
  int sector_border = 0;  // > 0: keep mask from the image's sector (EchoGAINS get_repaint_mask)
};

int run(const InpaintArgs& a) {
  using namespace medport;
  namespace d = medport::diffusion;
  const cli::LoopChoice loop = cli::loop_choice(a.common);
  const runtime::SessionOptions session_options = cli::unet_session_options(a.common);  // checks CUDA first
  d::DiffusionSettings s = cli::settings_with_overrides(a.common);
  if (a.t_T > 0) s.repaint.t_T = a.t_T;
  if (a.jump_length > 0) s.repaint.jump_length = a.jump_length;
  if (a.jump_n_sample > 0) s.repaint.jump_n_sample = a.jump_n_sample;
  const d::DiffusionProcess process = d::make_diffusion_process(s.schedule, s.diffusion_steps, s.respacing);

  if (a.mask.empty() == (a.sector_border == 0)) throw UsageError("give exactly one of --mask and --sector-mask");
  const Tensor image = d::load_diffusion_image(a.image, s.in_channels, a.size > 0 ? a.size : s.image_size);
  const Tensor mask =
      a.sector_border > 0 ? d::sector_keep_mask(image, a.sector_border) : d::load_keep_mask(a.mask, s.in_channels);
  const Shape& is = image.shape();
  if (mask.shape() != is) {
    throw InputError(a.mask, "mask size " + shape_string(mask.shape()) + " differs from the image's " + shape_string(is));
  }
  if (is[2] % s.spatial_multiple != 0 || is[3] % s.spatial_multiple != 0) {
    throw InputError(a.image, "image sides must be multiples of " + std::to_string(s.spatial_multiple) +
                                  " for this UNet (EchoGAINS: 256x256)");
  }
  cli::check_generation_size(a.batch, is[1], is[2], is[3], s.image_size);
  check_output_file_writable(a.output);
  if (!a.images.empty()) check_output_folder_writable(a.images);
  std::vector<float> gt_values;
  const std::vector<float> one = image.to_f32();
  for (std::int64_t b = 0; b < a.batch; ++b) gt_values.insert(gt_values.end(), one.begin(), one.end());
  const Tensor gt = Tensor::from_f32({a.batch, is[1], is[2], is[3]}, gt_values);

  runtime::Session session(a.common.model, session_options);

  const std::unique_ptr<d::NoiseSource> noise = d::make_noise_source(a.common.seed, a.common.noise_npz);
  d::ProgressBar bar(a.common.quiet ? nullptr : stderr, "repaint");
  const Tensor result =
      loop.on_device
          ? d::sample_repaint_on_device(process, session, gt, mask, *noise, s.repaint, s.sampler, loop.options,
                                        bar.callback())
          : d::sample_repaint(process, d::session_denoiser(session), gt, mask, *noise, s.repaint, s.sampler,
                              bar.callback());
  bar.finish();
  // OUT.png gets the 8-bit image (OUT_001.png ... for the further batch items); anything else
  // is an npz holding the [-1, 1] values.
  const std::filesystem::path out_path(a.output);
  if (out_path.extension() == ".png") {
    for (std::int64_t i = 0; i < a.batch; ++i) {
      std::filesystem::path p = out_path;
      if (i > 0) p.replace_filename(out_path.stem().string() + "_" + std::to_string(i) + ".png");
      d::write_png(p, result, i);
    }
  } else {
    ckpt::write_npz(a.output, {{"inpainted", result}});
  }
  if (!a.images.empty()) {
    for (std::int64_t i = 0; i < a.batch; ++i) {
      std::string name = std::to_string(i);
      name = "inpainted_" + std::string(name.size() < 3 ? 3 - name.size() : 0, '0') + name +
             ".png";
      d::write_png(std::filesystem::path(a.images) / name, result, i);
    }
  }
  const auto counts = d::count_repaint_steps(d::repaint_times(s.repaint));
  std::fprintf(stderr, "inpainted %lld image(s) %s: %zu model calls, %zu undo steps (%s loop on %s) -> %s\n",
               static_cast<long long>(a.batch), shape_string(gt.shape()).c_str(), counts.model_calls,
               counts.undo_steps, loop.on_device ? "device" : "host", a.common.device.provider.c_str(),
               a.output.c_str());
  return 0;
}

medport::cli::Runner setup(CLI::App& root) {
  auto a = std::make_shared<InpaintArgs>();
  auto* cmd = root.add_subcommand("inpaint", "Inpaint an image with RePaint and a compiled guided-diffusion UNet");
  medport::cli::add_diffusion_flags(*cmd, a->common, "timestep respacing (default 250)");
  cmd->add_option("--image", a->image, "image: 8-bit .png/.jpg/.bmp/.tif/.pgm/.ppm, or .npz with 'image' in [-1,1]")->required();
  auto* mask = cmd->add_option("--mask", a->mask, "keep mask, same size: 255 (or 1 in .npz 'mask') = known pixel");
  cmd->add_option("--sector-mask", a->sector_border,
                  "instead of --mask: keep the image's nonzero sector minus a border of this many pixels "
                  "(EchoGAINS get_repaint_mask uses 2)")
      ->check(CLI::Range(1, 1024))
      ->excludes(mask);
  cmd->add_option("--size", a->size,
                  "centre-crop 8-bit images to SIZE x SIZE like guided-diffusion center_crop_arr "
                  "(default: the sidecar's image_size, from convert --image-size; none: as given)")
      ->check(CLI::Range(1, 16384));
  cmd->add_option("-o,--output", a->output,
                 "OUT.png (8-bit image; OUT_1.png ... for further batch items) or an npz receiving "
                 "'inpainted' [N,C,H,W] in [-1,1]")
      ->required();
  cmd->add_option("--images", a->images, "folder receiving inpainted_NNN.png (8-bit)");
  cmd->add_option("--batch", a->batch, "inpaint this many copies of the image at once")->check(CLI::Range(1, 1024));
  cmd->add_option("--t-T", a->t_T, "RePaint t_T (default 250)")->check(CLI::Range(1, 100000));
  cmd->add_option("--jump-length", a->jump_length, "RePaint jump length (default 10)")->check(CLI::Range(1, 100000));
  cmd->add_option("--jump-n-sample", a->jump_n_sample, "RePaint resamplings (default 10)")->check(CLI::Range(1, 1000));
  return [a] { return run(*a); };
}

}  // namespace
MEDPORT_COMMAND(setup);
