#include "medport/pipelines/classify/image_batch.hpp"

#include "medport/error.hpp"
#include "medport/pipelines/batch/case_outputs.hpp"
#include "medport/pipelines/batch/cases.hpp"
#include "medport/pipelines/batch/runner.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/json_text.hpp"

namespace medport::classify {
namespace {

namespace fs = std::filesystem;
namespace batch = pipelines::batch;
using Json = nlohmann::ordered_json;

Json read_json_file(const fs::path& path) {
  const auto bytes = read_file(path, std::size_t{64} << 20);
  const auto j = Json::parse(reinterpret_cast<const char*>(bytes.data()),
                             reinterpret_cast<const char*>(bytes.data()) + bytes.size(), nullptr, false);
  if (j.is_discarded()) throw InputError(path.string(), "not valid JSON");
  return j;
}

}  // namespace

ImageBatchResult classify_images(const Classifier& model, std::span<const ImageInput> inputs,
                                 const ImageBatchOptions& options,
                                 const std::function<void(const batch::CaseReport&, const ImageResult*)>& on_case) {
  const bool writing = !options.output_dir.empty();
  std::vector<batch::BatchCase> cases;
  for (const auto& in : inputs) cases.push_back({in.name, {in.path}});
  if (writing) batch::remove_stale_staging(options.output_dir);

  ImageBatchResult out;
  std::optional<ImageResult> current;
  batch::RunOptions run;
  run.output_dir = options.output_dir;
  run.overwrite = options.overwrite || !writing;
  out.totals = batch::run_cases(
      cases, run,
      [&](const batch::BatchCase& c, batch::CaseReport&) {
        current.reset();
        ImageResult r{c.name, c.files.front().string(), model.classify(read_rgb(c.files.front(), options.dicom), options.transform)};
        if (writing) {
          batch::CaseOutputFiles files(options.output_dir);
          write_file_atomic(files.path(c.name + ".json"), json_text(image_result_json(r, model, options.top_k)) + "\n");
          files.commit(c.name + ".json");
        }
        current = std::move(r);
      },
      [&](const batch::CaseReport& report) {
        const bool has_result = report.status != batch::CaseReport::Status::Failed && current;
        if (has_result) out.results.push_back(*current);
        on_case(report, has_result ? &out.results.back() : nullptr);
        current.reset();
      },
      [&](const batch::BatchCase& c, batch::CaseReport&) {
        const fs::path json = batch::done_marker(options.output_dir, c.name);
        current = image_result_from_json(read_json_file(json), model.config(), json.string());
      });
  if (writing) {
    write_file_atomic(options.output_dir / "classification.csv", images_csv(out.results, model.config()));
    Json all = Json::array();
    for (const auto& r : out.results) all.push_back(image_result_json(r, model, options.top_k));
    write_file_atomic(options.output_dir / "classification.json",
                      json_text(Json{{"model", model.model_path().string()}, {"images", all}}) + "\n");
  }
  return out;
}

Json video_info_json(const VideoInfo& i) {
  return {{"path", i.path},         {"fps", i.fps},       {"frames_in_file", i.frames_in_file},
          {"decoded", i.decoded},   {"width", i.width},   {"height", i.height},
          {"rotation", i.rotation}, {"rotation_from", i.rotation_from}};
}

std::vector<fs::path> write_video_outputs(const fs::path& out, const VideoOutputs& v) {
  std::vector<fs::path> written;
  auto text = [&](const std::string& name, const std::string& content) {
    write_file_atomic(out / name, content);
    written.push_back(out / name);
  };
  auto bytes = [&](const std::string& name, const std::vector<std::uint8_t>& content) {
    write_file_atomic(out / name, std::as_bytes(std::span(content)));
    written.push_back(out / name);
  };
  fs::create_directories(out);
  const auto& frames = v.run->per_model[0];
  const auto& config = v.models[0]->config();
  const Json info = video_info_json(v.run->info);
  text("frames.csv", frames_csv(frames, config));
  text("frames.json", json_text(Json{{"model", v.model_names[0]}, {"video", info}, {"frames", frames_json(frames, config)}}) + "\n");
  const std::string name_a = fs::path(v.model_names[0]).filename().string();
  bytes("probabilities.png", probability_plot_png({&frames}, {name_a}, config, v.video_name));
  if (v.comparison && v.models.size() > 1) {
    const auto& other = v.run->per_model[1];
    const auto& config_b = v.models[1]->config();
    text("frames_compare.csv", frames_csv(other, config_b));
    text("frames_compare.json",
         json_text(Json{{"model", v.model_names[1]}, {"video", info}, {"frames", frames_json(other, config_b)}}) + "\n");
    text("comparison.json", json_text(comparison_json(*v.comparison, v.model_names[0], v.model_names[1])) + "\n");
    text("comparison.csv", comparison_csv(*v.comparison));
    bytes("comparison.png", probability_plot_png({&frames, &other},
                                                 {name_a, fs::path(v.model_names[1]).filename().string()}, config,
                                                 v.video_name + ": both models"));
  }
  return written;
}

}  // namespace medport::classify
