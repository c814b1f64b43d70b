#include "medport/pipelines/fewshot/case_writer.hpp"

#include <algorithm>
#include <cstdio>

#include "medport/checkpoint/npy.hpp"
#include "medport/imaging/image_io.hpp"
#include "medport/pipelines/batch/case_outputs.hpp"
#include "medport/pipelines/batch/cases.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/stopwatch.hpp"
#include "medport/util/json_text.hpp"

namespace medport::pipelines::fewshot {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string size_note(const ClassStats& s, bool is_3d) {
  char buf[48];
  if (is_3d) std::snprintf(buf, sizeof buf, "%.2f mL", s.volume_ml);
  else std::snprintf(buf, sizeof buf, "%.1f mm2", s.volume_ml * 1000.0);
  return buf;
}

std::vector<std::byte> montage_png(const FewshotResult& r, const OutputSettings& output) {
  const bool is_3d = r.query.spatial_dims() == 3;
  std::vector<std::string> notes;
  for (const auto& s : r.stats) notes.push_back(size_note(s, is_3d));
  MontageOptions montage;
  montage.slices = output.montage_slices;
  montage.title = r.case_name + "  -  " + r.strategy;
  if (!is_3d) montage.tile_size = 512;  // one image: show it large
  const auto& sp = r.query.spacing;
  if (sp.size() >= 2) montage.pixel_aspect = std::clamp(sp[sp.size() - 2] / sp.back(), 0.1, 10.0);
  return render_montage_png(r.query.data, r.labels.labels, r.grid, r.class_names, notes, r.classes, montage);
}

}  // namespace

std::vector<fs::path> write_case(const FewshotResult& r, const fs::path& output_dir, const OutputSettings& output) {
  const Stopwatch start;
  const std::string& name = r.case_name;
  batch::CaseOutputFiles files(output_dir);
  json outputs;
  const auto label_files = write_labels(files.path(name + "_labels"), r.labels, r.query, parse_label_format(output.format));
  outputs["labels"] = label_files.front().filename().string();
  if (output.montage) {
    write_file_atomic(files.path(name + "_montage.png"), montage_png(r, output));
    outputs["montage"] = name + "_montage.png";
  }
  if (output.save_confidence) {
    const auto confidence = confidence_map(r.probabilities, r.labels.labels, static_cast<std::int64_t>(r.classes.size()), r.classes);
    ckpt::write_npy_file(files.path(name + "_confidence.npy"), Tensor::from_f32(r.query.spatial_shape(), confidence));
    outputs["confidence"] = name + "_confidence.npy";
  }
  if (output.save_probabilities) {
    // float maps: NIfTI beside a NIfTI label map, npy otherwise (PNG holds no floats)
    const std::string name_p = name + "_probabilities" + (output.format == "nii.gz" ? ".nii.gz" : ".npy");
    Shape shape = r.query.spatial_shape();
    shape.insert(shape.begin(), static_cast<std::int64_t>(r.classes.size()));
    imaging::write_float_maps(files.path(name_p), Tensor::from_f32(shape, r.probabilities), r.query);
    outputs["probabilities"] = name_p;
  }
  if (output.save_logits) {
    const Shape& l = r.logits.shape();  // (1,K,D,H,W) at the model's volume
    ckpt::write_npy_file(files.path(name + "_logits.npy"), r.logits.reshaped(Shape(l.begin() + 1, l.end())));
    outputs["logits"] = name + "_logits.npy";
  }
  json report = r.report;
  report["outputs"] = outputs;
  const double write_s = start.seconds();
  report["timings"]["write_s"] = write_s;
  report["timings"]["total_s"] = r.seconds + write_s;
  const std::string marker = batch::done_marker(output_dir, name).filename().string();
  write_file_atomic(files.path(marker), json_text(report) + "\n");
  return files.commit(marker);
}

}  // namespace medport::pipelines::fewshot
