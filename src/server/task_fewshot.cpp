// POST /v1/fewshot: labelled support images and queries in; per query the label map, per-class
// areas/volumes, confidence, quality checks and an overlay out - FewshotPipeline, the library
// call `medport fewshot` makes, with the server's shared IrisModel. The memory bank of each model
// is STATE_DIR/banks/NAME.npz: update_bank adds the supports under MemoryBankStore's file lock, so
// several server processes sharing STATE_DIR lose no update.
#include "medport/error.hpp"
#include "medport/pipelines/fewshot/memory_bank_store.hpp"
#include "medport/pipelines/fewshot/outputs.hpp"
#include "medport/pipelines/fewshot/pipeline.hpp"
#include "medport/pipelines/segment/overlay.hpp"
#include "medport/server/uploads.hpp"
#include "task_support.hpp"

namespace medport::server {

using json = nlohmann::json;
namespace fsl = pipelines::fewshot;
namespace fs = std::filesystem;

namespace {

std::vector<std::byte> overlay_of(const fsl::FewshotResult& r) {
  const std::vector<float>& image = r.query.data;
  if (r.grid.depth == 1) {
    std::vector<std::string> names(256);
    for (std::size_t k = 0; k < r.classes.size(); ++k) names[static_cast<std::size_t>(r.classes[k])] = r.class_names[k];
    // First channel of the query as the background picture.
    const std::span<const float> plane(image.data(), static_cast<std::size_t>(r.grid.height * r.grid.width));
    return segment::render_overlay_png(plane, r.labels.labels, r.grid.height, r.grid.width, names, {});
  }
  fsl::MontageOptions montage;
  const std::span<const float> volume(image.data(), r.grid.voxels());
  return fsl::render_montage_png(volume, r.labels.labels, r.grid, r.class_names, {}, r.classes, montage);
}

void fewshot_endpoint(Call& c) {
  require_multipart(c);
  allow_only_fields(c, {"model", "support_image", "support_mask", "query", "options"});
  const json o = form_options(c, {"strategy", "classes", "update_bank", "threshold", "largest_component", "normalize",
                                  "ensemble", "retrieval", "top_k", "tune_steps"});
  const auto model = task_model(c, form_text(c, "model"), "iris");
  const auto support_images = form_files(c, "support_image");
  const auto support_masks = form_files(c, "support_mask");
  const auto queries = form_files(c, "query");
  if (support_images.size() != support_masks.size())
    throw UsageError("every support_image needs its support_mask (" + std::to_string(support_images.size()) + " images, " +
                     std::to_string(support_masks.size()) + " masks)");
  if (support_images.size() > 16) throw UsageError("at most 16 supports");
  if (queries.empty() || queries.size() > 16) throw UsageError("give 1 to 16 'query' files");

  fsl::FewshotRequest request;
  request.model_dir = model->model_path();
  fsl::FewshotSettings& s = request.settings;
  s.strategy = option_string(o, "strategy", support_images.size() > 1 ? "ensemble" : "one-shot");
  s.ensemble = option_string(o, "ensemble", s.ensemble);
  s.retrieval = option_string(o, "retrieval", s.retrieval);
  s.top_k = static_cast<int>(option_int(o, "top_k", s.top_k, 1, 64));
  s.tune_steps = static_cast<int>(option_int(o, "tune_steps", s.tune_steps, 1, 200));
  s.preprocessing.normalize = option_string(o, "normalize", s.preprocessing.normalize);
  s.preprocessing.modality = option_string(o, "modality", s.preprocessing.modality);
  s.masks.threshold = option_number(o, "threshold", s.masks.threshold, 0.0, 1.0);
  s.masks.largest_component = option_bool(o, "largest_component", false);
  if (o.contains("classes")) {
    if (!o["classes"].is_array()) throw UsageError("options.classes must be an array of label values");
    for (const auto& v : o["classes"]) {
      if (!v.is_number_integer() || v.get<int>() < 1 || v.get<int>() > 255) throw UsageError("options.classes holds 1..255");
      s.classes.push_back(v.get<std::int64_t>());
    }
  }
  s.update_bank = option_bool(o, "update_bank", false);
  const fs::path bank = c.service.options.state_dir / "banks" / (model->name() + ".npz");
  if (s.update_bank || fs::exists(bank)) {
    fs::create_directories(bank.parent_path());
    s.bank = bank.string();
  }
  UploadFolder upload;
  for (std::size_t i = 0; i < support_images.size(); ++i)
    s.supports.push_back({upload.store("support_image", support_images[i]->filename, support_images[i]->content),
                          upload.store("support_mask", support_masks[i]->filename, support_masks[i]->content)});
  std::vector<fs::path> query_files;
  for (const auto* q : queries) query_files.push_back(upload.store("query", q->filename, q->content));

  auto ticket = c.admit();
  c.deadline.check("the queue");
  const auto start = Clock::now();
  const fsl::FewshotPipeline pipeline(request, model->iris());
  json results = json::array();
  for (std::size_t i = 0; i < query_files.size(); ++i) {
    c.deadline.check("few-shot segmentation");
    fsl::FewshotResult r = pipeline.run({"query_" + std::to_string(i), query_files[i], std::nullopt});
    json report = r.report;
    report.erase("inputs");  // the server's temporary file names
    report.erase("model");
    results.push_back({{"case", r.case_name},
                       {"report", report},
                       {"labels", encoded_array(r.labels.labels, r.labels.shape)},
                       {"overlay_png", base64(overlay_of(r))}});
  }
  c.service.metrics.observe_inference(model->name(), std::chrono::duration<double>(Clock::now() - start).count());
  json preparation = pipeline.preparation();
  json bank_facts = json::object();
  if (!s.bank.empty()) {
    const auto contents = fsl::read_bank_file(bank);
    json counts = json::object();
    for (const auto& [id, n] : contents.counts) counts[std::to_string(id)] = n;
    bank_facts = {{"updated", s.update_bank}, {"class_counts", counts}, {"examples", contents.examples.size()}};
  }
  c.reply_json(200, {{"model", {{"name", model->name()}, {"version", model->version()}}},
                     {"strategy", s.strategy},
                     {"classes", pipeline.classes()},
                     {"bank", bank_facts},
                     {"encode_seconds", preparation.value("encode_seconds", 0.0)},
                     {"results", results}});
}

}  // namespace

void add_fewshot_route(std::vector<Route>& r) { r.push_back({"POST", "/v1/fewshot", fewshot_endpoint}); }

}  // namespace medport::server
