// POST /v1/sample and POST /v1/inpaint: guided-diffusion sampling and RePaint inpainting as
// asynchronous jobs (202 + job id; GET/DELETE /v1/jobs/{id}). The work is the library calls
// `medport sample` / `medport inpaint` make: the model's sidecar settings, the respaced process,
// torch-compatible noise for the seed, and the samplers, with the progress and cancel flag of the
// job in the step callback.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "medport/error.hpp"
#include "medport/pipelines/diffusion/images.hpp"
#include "medport/pipelines/diffusion/onnx_denoiser.hpp"
#include "medport/pipelines/diffusion/settings.hpp"
#include "medport/server/http_error.hpp"
#include "medport/server/json_body.hpp"
#include "medport/server/uploads.hpp"
#include "task_support.hpp"

namespace medport::server {

using json = nlohmann::json;
namespace d = medport::diffusion;

namespace {

std::string png_base64(const Tensor& samples, std::int64_t index) {
  const auto pixels = d::to_uint8_pixels(samples, index);
  const int h = static_cast<int>(samples.shape()[2]), w = static_cast<int>(samples.shape()[3]);
  const int channels = static_cast<int>(samples.shape()[1]);
  cv::Mat mat(h, w, channels == 1 ? CV_8UC1 : CV_8UC3, const_cast<std::uint8_t*>(pixels.data()));
  cv::Mat bgr;
  if (channels == 3) cv::cvtColor(mat, bgr, cv::COLOR_RGB2BGR);
  else bgr = mat;
  std::vector<unsigned char> png;
  cv::imencode(".png", bgr, png);
  return base64(std::as_bytes(std::span(png)));
}

json samples_result(const Tensor& samples) {
  json images = json::array();
  for (std::int64_t i = 0; i < samples.shape()[0]; ++i) images.push_back(png_base64(samples, i));
  const auto values = samples.to_f32();
  return {{"shape", samples.shape()}, {"images_png", images}, {"samples", encoded_array(values, samples.shape())}};
}

d::StepCallback job_progress(JobContext& job) {
  return [&job](const d::StepInfo& step) {
    job.progress(step.index + 1, step.total);
    job.check_cancelled();
  };
}

d::DiffusionSettings settings_from(const ServedModel& model, const json& o) {
  if (model.family() != "guided_diffusion")
    throw HttpError(400, "model '" + model.name() + "' is a " + model.family() + " model; this endpoint needs a guided-diffusion UNet");
  d::DiffusionSettings s = d::settings_for_model(model.model_path());
  s.respacing = option_string(o, "respacing", s.respacing);
  if (o.contains("variance")) s.sampler.variance = d::parse_variance_type(option_string(o, "variance", ""));
  s.sampler.clip_denoised = option_bool(o, "clip", true);
  return s;
}

void sample_endpoint(Call& c) {
  const json o = parse_strict_json(c.req.body, "sample request");
  allow_only_keys(o, {"model", "batch", "size", "respacing", "sampler", "eta", "seed", "variance", "clip"}, "sample request");
  std::optional<std::string> name;
  if (o.contains("model")) name = option_string(o, "model", "");
  const auto model = task_model(c, name, "guided_diffusion");
  d::DiffusionSettings s = settings_from(*model, o);
  const std::int64_t batch = option_int(o, "batch", 1, 1, 16);
  const std::int64_t size = option_int(o, "size", s.image_size, 1, 1024);
  if (size <= 0) throw UsageError("size is required (the model's sidecar records no image size)");
  if (size % s.spatial_multiple != 0) throw UsageError("size must be a multiple of " + std::to_string(s.spatial_multiple));
  const std::string sampler = option_string(o, "sampler", "ddpm");
  if (sampler != "ddpm" && sampler != "ddim") throw UsageError("sampler is ddpm or ddim");
  const double eta = option_number(o, "eta", 0.0, 0.0, 10.0);
  const auto seed = static_cast<std::uint64_t>(option_int(o, "seed", 0, 0, std::numeric_limits<std::int64_t>::max()));
  const d::DiffusionProcess process = d::make_diffusion_process(s.schedule, s.diffusion_steps, s.respacing);
  const std::string id = c.service.jobs.submit("sample", model->name(), [=, &c_service = c.service](JobContext& job) {
    const d::DenoiseFn denoise = d::session_denoiser(model->session());
    const auto noise = d::make_noise_source(seed, "");
    const Shape shape{batch, s.in_channels, size, size};
    const auto start = Clock::now();
    const Tensor samples = sampler == "ddim" ? d::sample_ddim(process, denoise, shape, *noise, eta, s.sampler, job_progress(job))
                                             : d::sample_ddpm(process, denoise, shape, *noise, s.sampler, job_progress(job));
    c_service.metrics.observe_inference(model->name(), std::chrono::duration<double>(Clock::now() - start).count());
    return samples_result(samples);
  });
  c.res.set_header("Location", "/v1/jobs/" + id);
  c.reply_json(202, {{"id", id}, {"state", "queued"}, {"status_url", "/v1/jobs/" + id}});
}

void inpaint_endpoint(Call& c) {
  require_multipart(c);
  allow_only_fields(c, {"model", "image", "mask", "options"});
  const json o = form_options(c, {"respacing", "variance", "clip", "seed", "t_T", "jump_length", "jump_n_sample", "size",
                                  "sector_border", "batch"});
  const auto model = task_model(c, form_text(c, "model"), "guided_diffusion");
  d::DiffusionSettings s = settings_from(*model, o);
  s.repaint.t_T = static_cast<int>(option_int(o, "t_T", s.repaint.t_T, 1, 100000));
  s.repaint.jump_length = static_cast<int>(option_int(o, "jump_length", s.repaint.jump_length, 1, 100000));
  s.repaint.jump_n_sample = static_cast<int>(option_int(o, "jump_n_sample", s.repaint.jump_n_sample, 1, 1000));
  const auto seed = static_cast<std::uint64_t>(option_int(o, "seed", 0, 0, std::numeric_limits<std::int64_t>::max()));
  const std::int64_t batch = option_int(o, "batch", 1, 1, 16);
  const auto border = static_cast<int>(option_int(o, "sector_border", 0, 0, 1024));
  const auto images = form_files(c, "image");
  const auto masks = form_files(c, "mask");
  if (images.size() != 1) throw UsageError("give one 'image' file");
  if ((masks.size() == 1) == (border > 0)) throw UsageError("give exactly one of the 'mask' file and options.sector_border");
  UploadFolder upload;
  const Tensor image = d::load_diffusion_image(upload.store("image", images[0]->filename, images[0]->content), s.in_channels,
                                               option_int(o, "size", s.image_size, 0, 1024));
  const Tensor mask = border > 0 ? d::sector_keep_mask(image, border)
                                 : d::load_keep_mask(upload.store("mask", masks[0]->filename, masks[0]->content), s.in_channels);
  const Shape& is = image.shape();
  if (mask.shape() != is) throw UsageError("mask size " + shape_string(mask.shape()) + " differs from the image's " + shape_string(is));
  if (is[2] % s.spatial_multiple != 0 || is[3] % s.spatial_multiple != 0)
    throw UsageError("image sides must be multiples of " + std::to_string(s.spatial_multiple) + " for this UNet");
  d::repaint_times(s.repaint);  // UsageError now, not in the job, for a schedule that makes no sense
  std::vector<float> gt_values;
  const std::vector<float> one = image.to_f32();
  for (std::int64_t b = 0; b < batch; ++b) gt_values.insert(gt_values.end(), one.begin(), one.end());
  const Tensor gt = Tensor::from_f32({batch, is[1], is[2], is[3]}, gt_values);
  const d::DiffusionProcess process = d::make_diffusion_process(s.schedule, s.diffusion_steps, s.respacing);
  const std::string id = c.service.jobs.submit("inpaint", model->name(), [=, &c_service = c.service](JobContext& job) {
    const d::DenoiseFn denoise = d::session_denoiser(model->session());
    const auto noise = d::make_noise_source(seed, "");
    const auto start = Clock::now();
    const Tensor result = d::sample_repaint(process, denoise, gt, mask, *noise, s.repaint, s.sampler, job_progress(job));
    c_service.metrics.observe_inference(model->name(), std::chrono::duration<double>(Clock::now() - start).count());
    return samples_result(result);
  });
  c.res.set_header("Location", "/v1/jobs/" + id);
  c.reply_json(202, {{"id", id}, {"state", "queued"}, {"status_url", "/v1/jobs/" + id}});
}

void check_job_id(const std::string& id) {
  if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw HttpError(400, "a job id is 32 lower-case hex digits");
}

}  // namespace

void add_diffusion_routes(std::vector<Route>& r) {
  r.push_back({"POST", "/v1/sample", sample_endpoint});
  r.push_back({"POST", "/v1/inpaint", inpaint_endpoint});
}

void add_job_routes(std::vector<Route>& r) {
  r.push_back({"GET", "/v1/jobs/{id}", [](Call& c) {
                 check_job_id(c.param("id"));
                 c.reply_json(200, c.service.jobs.fetch(c.param("id")));
               }});
  r.push_back({"DELETE", "/v1/jobs/{id}", [](Call& c) {
                 check_job_id(c.param("id"));
                 c.reply_json(200, c.service.jobs.cancel(c.param("id")));
               }});
}

}  // namespace medport::server
