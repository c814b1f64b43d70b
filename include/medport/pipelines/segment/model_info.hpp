#pragma once
// What the segmentation pipeline reads from a converted model's sidecar (MODEL.medport.json,
// schema in docs/NNUNET.md): tile geometry, mirroring, labels and spacing.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace medport::segment {

struct LabelInfo {
  std::string name;
  int value = 0;
};

// A region of a region-based model (nnU-Net's dataset.json label given as a list): one sigmoid
// output channel; `members` are the label values it covers.
struct RegionInfo {
  std::string name;
  std::vector<int> members;
};

struct ModelInfo {
  std::filesystem::path onnx_path;
  std::filesystem::path sidecar_path;
  std::string input_name = "input";
  std::string output_name = "logits";
  std::int64_t input_channels = 1;
  std::int64_t output_channels = 1;
  int spatial_dims = 2;
  std::vector<std::int64_t> patch_size;
  std::vector<std::int64_t> stride_product;
  std::vector<int> allowed_mirroring_axes;  // empty: the model was trained without mirroring
  double tile_step_size = 0.5;
  bool use_gaussian = true;
  double gaussian_sigma_scale = 1.0 / 8.0;
  std::vector<double> spacing;              // target spacing (mm), one per spatial axis; may be empty
  std::vector<LabelInfo> labels;            // plain labels in file order (regions excluded)
  bool has_regions = false;
  // Region-based models only: one entry per output channel (dataset.json order, background
  // excluded) and the label value each channel paints where its sigmoid exceeds 0.5, in order.
  std::vector<RegionInfo> regions;
  std::vector<int> regions_class_order;
  std::string configuration;                // "2d", "3d_fullres", ...
  std::string file_ending = ".nii.gz";      // dataset.json file_ending (raw input folders)
  std::string checkpoint_sha256;
};

// "dir/model.onnx" -> "dir/model.medport.json".
std::filesystem::path sidecar_for(const std::filesystem::path& onnx_path);

// Reads and validates the sidecar next to `onnx_path`. Throws InputError naming the sidecar.
ModelInfo load_model_info(const std::filesystem::path& onnx_path);
// Parses sidecar JSON text (`source` names it in errors).
ModelInfo parse_model_info(const std::string& json_text, const std::string& source);

}  // namespace medport::segment
