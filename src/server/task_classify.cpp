// POST /v1/classify: images in; top-k classes and every probability out - classify::Classifier,
// the object `medport classify` uses, with the same JSON per image.
#include "medport/error.hpp"
#include "medport/pipelines/classify/classifier.hpp"
#include "medport/pipelines/classify/results.hpp"
#include "medport/server/uploads.hpp"
#include "task_support.hpp"

namespace medport::server {

using json = nlohmann::json;

namespace {

void classify_endpoint(Call& c) {
  require_multipart(c);
  allow_only_fields(c, {"model", "image", "options"});
  const json o = form_options(c, {"top_k", "resize"});
  const auto model = task_model(c, form_text(c, "model"), "timm");
  const auto images = form_files(c, "image");
  if (images.empty() || images.size() > 32) throw UsageError("give 1 to 32 'image' files");
  const auto top_k = static_cast<std::size_t>(option_int(o, "top_k", 5, 1, 1000));
  const std::string resize = option_string(o, "resize", "crop");
  if (resize != "crop" && resize != "squash") throw UsageError("options.resize is crop or squash");
  const classify::Classifier& classifier = model->classifier();
  const auto transform = classifier.transform(resize == "crop" ? classify::ResizeMode::Crop : classify::ResizeMode::Squash);
  UploadFolder upload;
  std::vector<std::filesystem::path> files;
  for (const auto* part : images) files.push_back(upload.store("image", part->filename, part->content));
  auto ticket = c.admit();
  c.deadline.check("the queue");
  const auto start = Clock::now();
  json results = json::array();
  for (std::size_t i = 0; i < files.size(); ++i) {
    classify::RgbImage rgb = classify::read_rgb(files[i]);
    rgb.source = "image_" + std::to_string(i);
    const classify::ImageResult r{"image_" + std::to_string(i), "upload", classifier.classify(rgb, transform)};
    results.push_back(json::parse(classify::image_result_json(r, classifier, top_k).dump()));
  }
  c.service.metrics.observe_inference(model->name(), std::chrono::duration<double>(Clock::now() - start).count());
  c.reply_json(200, {{"model", {{"name", model->name()}, {"version", model->version()}}}, {"results", results}});
}

}  // namespace

void add_classify_route(std::vector<Route>& r) { r.push_back({"POST", "/v1/classify", classify_endpoint}); }

}  // namespace medport::server
