// POST /v1/echo/ef: the apical views (2CH/4CH at ED/ES) in; each is segmented like /v1/segment,
// then EDV/ESV/EF are measured by pipelines::clinical::measure_ejection_fraction, the function
// `medport echo-ef` uses, and returned with the overlays and LV areas.
#include <cmath>

#include "medport/error.hpp"
#include "medport/imaging/label_io.hpp"
#include "medport/pipelines/clinical/echo_ef.hpp"
#include "medport/server/uploads.hpp"
#include "segment_task.hpp"
#include "task_support.hpp"

namespace medport::server {

using json = nlohmann::json;

namespace {

struct ViewField {
  const char* field;
  const char* key;
  const char* spacing_field;
};
constexpr ViewField kViews[] = {{"a2c_ed", "2CH_ED", "spacing_2ch"},
                                {"a2c_es", "2CH_ES", "spacing_2ch"},
                                {"a4c_ed", "4CH_ED", "spacing_4ch"},
                                {"a4c_es", "4CH_ES", "spacing_4ch"}};

bool format_has_spacing(const std::string& ending) { return ending == ".nii.gz" || ending == ".nii" || ending == ".mha"; }

void echo_ef_endpoint(Call& c) {
  require_multipart(c);
  allow_only_fields(c, {"model", "a2c_ed", "a2c_es", "a4c_ed", "a4c_es", "spacing_2ch", "spacing_4ch", "label", "options"});
  const json o = form_options(c, {"tta", "overlay", "contours", "alpha"});
  const auto model = task_model(c, form_text(c, "model"), "nnunet");
  int label = 1;
  if (const auto text = form_text(c, "label")) {
    try {
      label = std::stoi(*text);
    } catch (const std::exception&) {
      label = -1;
    }
    if (label < 1 || label > 255) throw UsageError("label must be the LV label value, 1..255");
  }
  UploadFolder upload;
  struct Upload {
    std::string key;
    std::filesystem::path file;
    SegmentTaskOptions options;
  };
  std::vector<Upload> uploads;
  for (const auto& v : kViews) {
    const auto parts = form_files(c, v.field);
    if (parts.empty()) continue;
    if (parts.size() > 1) throw UsageError(std::string("give one file for '") + v.field + "'");
    Upload u{v.key, upload.store(v.field, parts[0]->filename, parts[0]->content), {}};
    if (const auto spacing = form_text(c, v.spacing_field)) u.options.spacing = imaging::parse_spacing(*spacing, 2, 2);
    else if (!format_has_spacing(known_image_ending(parts[0]->filename)))
      throw UsageError(std::string("'") + v.field + "' carries no pixel spacing: give '" + v.spacing_field + "' as ROW,COL in mm");
    u.options.tta = option_bool(o, "tta", true);
    u.options.overlay = option_bool(o, "overlay", true);
    u.options.contours = option_bool(o, "contours", false);
    u.options.alpha = option_number(o, "alpha", 0.45, 0.0, 1.0);
    uploads.push_back(std::move(u));
  }
  if (uploads.empty()) throw UsageError("give the views as files a2c_ed, a2c_es, a4c_ed, a4c_es (both phases of one or both views)");

  auto ticket = c.admit();
  c.deadline.check("the queue");
  pipelines::clinical::ViewMasks label_maps;
  json views = json::object();
  for (const auto& u : uploads) {
    auto result = segment_upload(c, *model, u.key, {u.file}, u.options);
    if (result.labels.ndim() != 2) throw InputError(u.key, "echo views must be 2D images");
    json view{{"shape", result.labels.shape}, {"spacing_mm_row_col", result.labels.spacing}, {"labels", result.summary["labels"]}};
    if (!result.overlay_png.empty()) view["overlay_png"] = base64(result.overlay_png);
    views[u.key] = std::move(view);
    label_maps.emplace(u.key, std::move(result.labels));
  }
  std::map<std::string, std::string> sources;
  for (const auto& u : uploads) sources[u.key] = u.key + " segmentation";
  const auto ef = pipelines::clinical::measure_ejection_fraction(pipelines::clinical::lv_masks(label_maps, label), sources);
  nlohmann::ordered_json reply{{"model", {{"name", model->name()}, {"version", model->version()}}}, {"label", label}};
  reply.update(ef.fields);
  if (!std::isfinite(reply["EF_percent"].get<double>())) reply["EF_percent"] = nullptr;
  reply["method_description"] = ef.method_line;
  reply["views_detail"] = nlohmann::ordered_json::parse(views.dump());
  c.reply_ordered_json(200, reply);
}

}  // namespace

void add_echo_ef_route(std::vector<Route>& r) { r.push_back({"POST", "/v1/echo/ef", echo_ef_endpoint}); }

}  // namespace medport::server
