#pragma once
// nnU-Net v2 network -> graph::Graph, op for op what dynamic_network_architectures computes in
// eval mode: input "input" (N, C, *spatial), output "logits" (N, classes, *spatial); batch and
// spatial axes are dynamic (spatial sizes must be multiples of Architecture::stride_product()).
#include <optional>
#include <span>
#include <string>

#include "medport/graph/ir.hpp"
#include "medport/models/nnunet/architecture.hpp"
#include "medport/models/nnunet/weights.hpp"

namespace medport::models::nnunet {

inline constexpr const char* kInputName = "input";
inline constexpr const char* kOutputName = "logits";

struct GraphOptions {
  // Also output every lower-resolution segmentation head ("deep_supervision_1", ...: the
  // resolution halves with each), after "logits" (the highest resolution).
  bool deep_supervision = false;
  int opset = 17;
};

graph::Graph build_graph(const Architecture& arch, const Weights& weights, const GraphOptions& options = {});

// The first spatial axis k (the input's axis k + 2) whose extent is not a multiple of the network's
// stride product there (entries 0 or below: no constraint); nullopt when every one fits.
std::optional<std::size_t> misfit_spatial_axis(const Shape& input_shape, std::span<const std::int64_t> stride_product);

// The app-ready model (--app): input "image" (1, C, *patch_size) of raw pixels, nnU-Net's
// per-channel normalization inside (ZScore over the patch, CT clipping with the dataset's
// statistics, RescaleTo01, RGBTo0_1, none), then the network, then "probabilities" (softmax over
// the classes, 1, K, *patch) and "labels" (their argmax, 1, *patch, int64). What nnU-Net does
// around the network (resampling to the target spacing, cropping, sliding windows) stays with the
// app: it resizes frames to the patch size. Refuses region-based models and use_mask_for_norm
// (InputError naming `source`).
inline constexpr const char* kAppInputName = "image";
inline constexpr const char* kAppProbabilities = "probabilities";
inline constexpr const char* kAppLabels = "labels";
graph::Graph build_app_graph(const Architecture& arch, const Weights& weights, const Json& resolved_configuration,
                             const Json& plans, bool has_regions, const std::string& source, int opset = 17);

// Output names in graph order for these options.
std::vector<std::string> output_names(const Architecture& arch, const GraphOptions& options);

}  // namespace medport::models::nnunet
