// POST /v1/segment: an image or volume (one file per channel) in; label map, probabilities on
// request, overlay PNG and the case summary out - segment::compute_case, as `medport segment`.
#include <chrono>

#include "medport/error.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/server/uploads.hpp"
#include "segment_task.hpp"
#include "task_support.hpp"

namespace medport::server {

using json = nlohmann::json;

segment::SegmentResult segment_upload(const Call& c, const ServedModel& model, const std::string& case_name,
                                      const std::vector<std::filesystem::path>& files, const SegmentTaskOptions& o) {
  const segment::LoadedModel& loaded = model.segmenter();
  segment::CaseOptions options;
  options.read.spacing = o.spacing;
  options.read.npy_channels_first = loaded.info.spatial_dims == 2 && loaded.info.input_channels > 1;
  options.predictor.mirror = o.tta;
  options.overlay = o.overlay;
  options.overlay_options.contours = o.contours;
  options.overlay_options.alpha = o.alpha;
  options.save_probabilities = o.probabilities;
  const Deadline deadline = c.deadline;
  options.predictor.progress = [deadline](const segment::Progress&) { deadline.check("segmentation"); };
  const auto start = Clock::now();
  auto result = segment::compute_case(std::span(&loaded, 1), segment::CaseInput{case_name, files}, options);
  c.service.metrics.observe_inference(model.name(), std::chrono::duration<double>(Clock::now() - start).count());
  return result;
}

json segment_reply(const ServedModel& model, segment::SegmentResult& r) {
  json summary = r.summary;
  summary.erase("input");   // the server's temporary file names
  summary.erase("models");  // the server's paths; replaced by the model's name below
  json reply{{"model", {{"name", model.name()}, {"version", model.version()}, {"onnx_sha256", model.segmenter().onnx_sha256}}},
             {"summary", summary},
             {"labels", encoded_array(r.labels.labels, r.labels.shape)}};
  if (!r.overlay_png.empty()) reply["overlay_png"] = base64(r.overlay_png);
  if (r.probabilities) {
    const auto values = r.probabilities->to_f32();
    reply["probabilities"] = encoded_array(values, r.probabilities->shape());
  }
  return reply;
}

namespace {

void segment_endpoint(Call& c) {
  require_multipart(c);
  allow_only_fields(c, {"model", "image", "spacing", "options"});
  const json o = form_options(c, {"tta", "overlay", "contours", "alpha", "probabilities"});
  const auto model = task_model(c, form_text(c, "model"), "nnunet");
  const auto images = form_files(c, "image");
  if (images.empty()) throw UsageError("give the image as the file field 'image' (one per channel, in channel order)");
  if (images.size() > 16) throw UsageError("at most 16 'image' channels");
  SegmentTaskOptions options;
  if (const auto spacing = form_text(c, "spacing")) options.spacing = imaging::parse_spacing(*spacing, 2, 3);
  options.tta = option_bool(o, "tta", true);
  options.overlay = option_bool(o, "overlay", true);
  options.contours = option_bool(o, "contours", false);
  options.alpha = option_number(o, "alpha", 0.45, 0.0, 1.0);
  options.probabilities = option_bool(o, "probabilities", false);
  UploadFolder upload;
  std::vector<std::filesystem::path> files;
  for (const auto* part : images) files.push_back(upload.store("image", part->filename, part->content));
  auto ticket = c.admit();
  c.deadline.check("the queue");
  auto result = segment_upload(c, *model, "image", files, options);
  c.reply_json(200, segment_reply(*model, result));
}

}  // namespace

void add_segment_route(std::vector<Route>& r) { r.push_back({"POST", "/v1/segment", segment_endpoint}); }

}  // namespace medport::server
