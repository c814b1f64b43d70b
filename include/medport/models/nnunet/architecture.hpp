#pragma once
// nnU-Net v2 network description, read from a plans configuration the way nnunetv2's
// ConfigurationManager + get_network_from_plans do (dynamic_network_architectures v0.4 semantics).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace medport::models::nnunet {

using Json = nlohmann::ordered_json;

enum class NetworkClass { PlainConvUNet, ResidualEncoderUNet };
enum class NormKind { None, Instance, Batch };
enum class NonlinKind { None, LeakyReLU, ReLU };

struct Architecture {
  NetworkClass network_class = NetworkClass::PlainConvUNet;
  std::string network_class_name;  // as written in the plans
  int dim = 2;                     // spatial dimensions (conv_op Conv2d / Conv3d)
  std::int64_t input_channels = 1;
  std::int64_t num_classes = 1;    // segmentation heads (labels, or regions)
  int n_stages = 0;
  std::vector<std::int64_t> features_per_stage;
  std::vector<std::vector<std::int64_t>> kernel_sizes;  // [stage][axis]
  std::vector<std::vector<std::int64_t>> strides;       // [stage][axis]
  std::vector<int> n_per_stage;            // Plain: convs per stage; ResEnc: residual blocks per stage
  std::vector<int> n_conv_per_stage_decoder;  // n_stages - 1 entries
  std::int64_t stem_channels = 0;             // ResEnc only
  bool conv_bias = false;
  NormKind norm = NormKind::None;
  double norm_eps = 1e-5;
  bool norm_affine = true;
  bool dropout = false;  // present in the module tree (shifts all_modules ids); identity at inference
  NonlinKind nonlin = NonlinKind::None;
  double negative_slope = 0.01;
  bool nonlin_first = false;  // Plain only: conv -> nonlin -> norm

  // Product of the strides per axis: spatial input sizes must be multiples of it.
  std::vector<std::int64_t> stride_product() const;
  std::string class_short_name() const;
};

// What the label dictionary of dataset.json implies (nnunetv2 LabelManager).
struct LabelInfo {
  bool has_regions = false;
  std::vector<std::int64_t> all_labels;  // sorted unique label values (ignore label excluded)
  std::int64_t num_heads = 0;            // regions ? foreground regions : all labels
};
LabelInfo label_info(const Json& dataset_json, const std::string& source);

// `plans.configurations[name]` with `inherits_from` resolved (child keys override parent keys).
Json resolve_configuration(const Json& plans, const std::string& configuration, const std::string& source);

// Architecture of one configuration; `source` names the plans in error messages (InputError).
Architecture architecture_from_plans(const Json& plans, const Json& dataset_json, const std::string& configuration,
                                     const std::string& source);

}  // namespace medport::models::nnunet
