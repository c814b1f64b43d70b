#include <opencv2/imgcodecs.hpp>

#include <span>

#include "medport/checkpoint/npy.hpp"
#include "medport/error.hpp"
#include "medport/pipelines/phantom/phantom.hpp"
#include "medport/util/file_io.hpp"
#include "medport/util/output_paths.hpp"
#include "medport/util/json_text.hpp"

namespace medport::pipelines::phantom {

namespace fs = std::filesystem;

namespace {

void write_gray_png(const fs::path& path, std::span<const std::uint8_t> pixels, std::int64_t rows, std::int64_t cols) {
  const cv::Mat mat(static_cast<int>(rows), static_cast<int>(cols), CV_8U, const_cast<std::uint8_t*>(pixels.data()));
  std::vector<uchar> png;
  if (!cv::imencode(".png", mat, png)) throw InputError(path.string(), "PNG encoding failed");
  write_file_atomic(path, std::span<const std::byte>(reinterpret_cast<const std::byte*>(png.data()), png.size()));
}

void write_u8_npy(const fs::path& path, std::span<const std::uint8_t> pixels, std::int64_t rows, std::int64_t cols) {
  const auto bytes = std::as_bytes(pixels);
  ckpt::write_npy_file(path, Tensor::from_bytes(DType::U8, {rows, cols}, bytes));
}

// Every file of one patient, into `folder`.
void write_patient_files(const fs::path& folder, const PhantomPatient& patient, const nlohmann::ordered_json& measured) {
  nlohmann::ordered_json spacing = nlohmann::ordered_json::object();
  for (const auto& v : patient.views) {
    const std::int64_t rows = v.labels.shape[0], cols = v.labels.shape[1];
    const std::string base = patient.id + "_" + v.view + "_" + v.phase;
    write_gray_png(folder / (base + ".png"), v.image, rows, cols);
    write_u8_npy(folder / (base + ".npy"), v.image, rows, cols);
    write_u8_npy(folder / (base + "_gt.npy"), v.labels.labels, rows, cols);
    write_gray_png(folder / (base + "_gt.png"), v.labels.labels, rows, cols);
    std::vector<std::uint8_t> visible(v.labels.labels.size());
    for (std::size_t i = 0; i < visible.size(); ++i) visible[i] = static_cast<std::uint8_t>(v.labels.labels[i] * 85);
    write_gray_png(folder / (base + "_labels.png"), visible, rows, cols);
    spacing[v.view] = {v.labels.spacing[0], v.labels.spacing[1]};
  }
  write_file_atomic(folder / "spacing.json", json_text(spacing) + "\n");

  const auto& t = patient.truth;
  nlohmann::ordered_json truth = {
      {"patient", patient.id},
      {"spacing_2CH_mm_row_col", spacing["2CH"]},
      {"spacing_4CH_mm_row_col", spacing["4CH"]},
      {"truth", {{"method", "analytic volume of the truncated ellipsoid"},
                 {"EDV_mL", t.edv_ml},
                 {"ESV_mL", t.esv_ml},
                 {"EF_percent", t.ef_percent}}},
  };
  if (!measured.is_null()) truth["measured"] = measured;
  truth["parameters"] = patient.parameters;
  write_file_atomic(folder / (patient.id + "_truth.json"), json_text(truth) + "\n");
}

}  // namespace

void write_phantom_patient(const fs::path& dir, const PhantomPatient& patient, const nlohmann::ordered_json& measured) {
  // The patient appears whole or not at all: written into a hidden folder, renamed into place.
  AtomicFolder patient_folder(dir / patient.id);
  try {
    write_patient_files(patient_folder.path(), patient, measured);
  } catch (const InputError& e) {  // name the patient folder the user will look for, not the hidden one
    std::string what = e.what();
    const std::string hidden = patient_folder.path().string();
    for (auto at = what.find(hidden); at != std::string::npos; at = what.find(hidden, at))
      what.replace(at, hidden.size(), patient_folder.destination().string());
    throw InputError(what);
  }
  patient_folder.commit();
}

}  // namespace medport::pipelines::phantom
